import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { ATTESTATION_INDEX_ACTIONS } from '../lambdas/adapters/attestation-index.ts';
import { KEY_REGISTRY_READ_ACTIONS } from '../lambdas/adapters/key-registry.ts';
import { RECORD_STORE_ACTIONS } from '../lambdas/adapters/records.ts';
import { loadConditionEngine } from '../lambdas/core/condition-engine.ts';
import {
  DEFAULT_PENDING_DEADLINE_SECONDS,
  DEFAULT_VERIFIER_BATCH_SIZE,
  DEFAULT_VSA_VALIDITY_SECONDS,
  KEY_PURPOSES,
  KEY_TAGS,
} from '../lambdas/core/defaults.ts';
import type { PipelineScope } from '../lambdas/core/pipelines.ts';
import { loadPolicySyntax, parsePolicy } from '../lambdas/core/policy.ts';

import { verifierEnvironment } from '../lambdas/verify/config.ts';
import type { DeploymentBucket } from './deployment.ts';
import { PROJECT_ROOT, VouchFunction } from './function.ts';
import type { VouchKeys } from './keys.ts';
import { acknowledge, logicalId, OBJECT_WILDCARD_REASON, SCHEDULER_INVOKE_REASON } from './nag.ts';
import type { StagingBucket } from './staging.ts';
import type { VouchTables } from './tables.ts';

// Synth parses, checks and compiles the policy file completely, its CEL conditions too: a policy that does
// not load never deploys. Constructs are synchronous, so the YAML parser, the schema check and the CEL
// engine (loaded lazily by the verifier) are loaded here, once, when the stack's code is imported.
await Promise.all([loadPolicySyntax(), loadConditionEngine()]);

export interface VerifierProps {
  /**
   * The verifier's role, which is also the promoter: the one principal the deployment bucket accepts
   * writes from. Passed in so the deployment bucket's policy can name it.
   */
  readonly role: iam.IRole;
  /** Where artifacts are staged, and the queue of their notifications. */
  readonly staging: Pick<StagingBucket, 'bucket' | 'queue' | 'deadLetterQueue' | 'grantReadStaged'>;
  /** Where verified artifacts are promoted. */
  readonly deployment: Pick<DeploymentBucket, 'bucket' | 'grantPromote'>;
  readonly tables: VouchTables;
  readonly keys: VouchKeys;
  /**
   * The pipelines: who owns which object keys, and the aliases of their signing keys, whose public keys
   * the verifier may read.
   * @default - no pipelines (every registry key in scope) and no access to signing keys at all
   */
  readonly pipelines?: readonly PipelineScope[];
  /**
   * The alias the rotating summary keys sign through; the promoter may sign through it, with keys
   * tagged as that line's summary keys only. @default - it signs with the stack's VSA key only
   */
  readonly vsaSigningAlias?: string;
  /** Absolute path of the policy file, bundled with the function. */
  readonly policyFile: string;
  /**
   * One full vCPU (1769 MB) makes the SHA-256 of a large artifact CPU-bound rather than throttled.
   * @default 1769
   */
  readonly memorySize?: number;
  /**
   * At ~1.5 GB/s of SHA-256 and S3's per-stream throughput, 15 minutes covers a 5 GiB artifact many times.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * The SQS event source's maximum concurrency: caps the load on DynamoDB and keeps a flood of uploads
   * from starving the account's other functions, without reserving anything.
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Reserve `concurrency` for the queue's function and one each for the re-check and the sweep. Lambda
   * keeps min(100, account limit) unreserved, so a reservation fails the deployment on accounts with a
   * low limit.
   * @default false
   */
  readonly reserveConcurrency?: boolean;
  /**
   * Messages per invocation: the summaries it promotes share one KMS signature. Above 10, SQS needs a
   * batching window of at least a second.
   * @default 20
   */
  readonly batchSize?: number;
  /** Longest the event source waits to fill a batch. @default Duration.seconds(1) */
  readonly batchingWindow?: Duration;
  /** How long a verification summary is valid after it is signed. @default Duration.days(30) */
  readonly vsaValidity?: Duration;
  /** How long an artifact waits for its attestations before it is rejected. @default Duration.hours(1) */
  readonly pendingDeadline?: Duration;
  /** How often artifacts pending past their deadline are swept into rejections. @default Duration.minutes(15) */
  readonly sweepInterval?: Duration;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The verifier: three functions on one code base and one role (the promoter, the only principal the
 * deployment bucket accepts writes from), each with its own trigger, timeout, concurrency and alarms:
 * - `function` consumes the staging queue: verifies, records, promotes;
 * - `recheckFunction` reads the key registry's stream: on a revocation, re-checks and pulls what the
 *   key vouched for;
 * - `sweepFunction` runs every `sweepInterval`: rejects artifacts whose attestations never came and
 *   finishes promotions a crash abandoned.
 * A sweep or a re-check never takes a slot from an SQS batch (a throttled batch would come back only
 * after the visibility timeout, burning a receive count on its way to the dead-letter queue).
 */
export class Verifier extends Construct {
  public readonly function: VouchFunction;
  public readonly recheckFunction: VouchFunction;
  public readonly sweepFunction: VouchFunction;
  public readonly sweepSchedule: scheduler.Schedule;

  /** The three functions, for what applies to each (code signing, alarms). */
  public get functions(): readonly VouchFunction[] {
    return [this.function, this.recheckFunction, this.sweepFunction];
  }

  constructor(scope: Construct, id: string, props: VerifierProps) {
    super(scope, id);
    const concurrency = props.concurrency ?? 10;
    const batchSize = props.batchSize ?? DEFAULT_VERIFIER_BATCH_SIZE;
    const batchingWindow = props.batchingWindow ?? Duration.seconds(1);
    if (batchSize > 10 && batchingWindow.toSeconds() < 1) {
      throw new Error(
        `Verifier: a batch size of ${batchSize} needs a batching window of at least 1 second (SQS), found ${batchingWindow.toHumanString()}`,
      );
    }
    const policyAsset = relative(PROJECT_ROOT, props.policyFile);
    if (policyAsset.startsWith('..')) {
      throw new Error(
        `Verifier: the policy file must be inside the project (${PROJECT_ROOT}), found ${props.policyFile}`,
      );
    }
    // Validated here, at synth. The verifier ships the file (its digest is the one decisions record) and
    // the document parsed from it, which a cold start reads instead of parsing and validating again.
    const policy = parsePolicy(readFileSync(props.policyFile), policyAsset);
    const environment = {
      ...verifierEnvironment({
        stagingBucket: props.staging.bucket.bucketName,
        deploymentBucket: props.deployment.bucket.bucketName,
        tables: {
          records: props.tables.records.tableName,
          index: props.tables.index.tableName,
          keys: props.tables.keys.tableName,
        },
        vsaKeyId: props.keys.vsaKey.keyArn,
        ...(props.vsaSigningAlias ? { vsaSigningAlias: props.vsaSigningAlias } : {}),
        ...(props.pipelines ? { pipelines: props.pipelines } : {}),
        policyPath: '/var/task/policy.yaml',
        policySchemaValidated: policy.digest,
        policyDocumentPath: '/var/task/policy.json',
        trustedRootPath: '/var/task/trust/public-good.trusted_root.json',
        pendingDeadlineSeconds: props.pendingDeadline?.toSeconds() ?? DEFAULT_PENDING_DEADLINE_SECONDS,
        vsaValiditySeconds: props.vsaValidity?.toSeconds() ?? DEFAULT_VSA_VALIDITY_SECONDS,
      }),
      POWERTOOLS_SERVICE_NAME: 'vouch-verifier',
      POWERTOOLS_METRICS_NAMESPACE: 'Vouch',
    };
    const verifierFunction = (functionId: string, entry: string, description: string, reserved?: number) =>
      new VouchFunction(this, functionId, {
        entry,
        description,
        role: props.role,
        memorySize: props.memorySize ?? 1769,
        timeout: props.timeout ?? Duration.minutes(15),
        ...(props.reserveConcurrency && reserved !== undefined
          ? { reservedConcurrentExecutions: reserved }
          : {}),
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        assets: { 'policy.yaml': policyAsset, trust: 'lambdas/core/trust' },
        files: { 'policy.json': JSON.stringify(policy.spec) },
        environment,
      });

    this.function = verifierFunction(
      'Verifier',
      'lambdas/verify/handler.ts',
      'Vouch verifier: verifies staged artifacts, records decisions, promotes verified bytes',
      concurrency,
    );
    this.function.function.addEventSource(
      new lambdaEvents.SqsEventSource(props.staging.queue, {
        batchSize,
        ...(batchingWindow.toSeconds() > 0 ? { maxBatchingWindow: batchingWindow } : {}),
        reportBatchItemFailures: true,
        maxConcurrency: concurrency,
      }),
    );

    this.recheckFunction = verifierFunction(
      'Recheck',
      'lambdas/verify/stream.ts',
      'Vouch verifier, revocation re-check: pulls what a revoked key vouched for',
      1,
    );
    this.recheckFunction.function.addEventSource(
      new lambdaEvents.DynamoEventSource(props.tables.keys, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        retryAttempts: 10,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        parallelizationFactor: 1,
        onFailure: new lambdaEvents.SqsDlq(props.staging.deadLetterQueue),
        filters: [
          lambda.FilterCriteria.filter({
            dynamodb: { NewImage: { revokedAt: { S: lambda.FilterRule.exists() } } },
          }),
        ],
      }),
    );

    this.sweepFunction = verifierFunction(
      'Sweep',
      'lambdas/verify/schedule.ts',
      'Vouch verifier, sweep: rejects artifacts past their deadline, finishes abandoned promotions',
      1,
    );
    this.sweepSchedule = new scheduler.Schedule(this, 'SweepSchedule', {
      description: 'Rejects artifacts still waiting for attestations after their deadline',
      schedule: scheduler.ScheduleExpression.rate(props.sweepInterval ?? Duration.minutes(15)),
      target: new targets.LambdaInvoke(this.sweepFunction.function, { retryAttempts: 2 }),
    });
    acknowledge(
      Stack.of(this),
      `IAM5[Resource::<${logicalId(this.sweepFunction.function)}.Arn>:*]`,
      SCHEDULER_INVOKE_REASON,
    );

    acknowledge(
      props.role,
      'IAM5[Resource::*]',
      'dynamodb:ListStreams has no resource-level permissions; the other stream actions name the key table ' +
        'stream. Signing and summary keys are created at run time: reading public keys is limited by their ' +
        'tags, signing summaries by their tags and the summary alias.',
    );
    props.staging.grantReadStaged(props.role);
    props.deployment.grantPromote(props.role);
    // Exactly the actions each adapter performs (lambdas/adapters/*: *_ACTIONS).
    props.tables.grant(props.role, 'records', RECORD_STORE_ACTIONS);
    props.tables.grant(props.role, 'index', ATTESTATION_INDEX_ACTIONS);
    // Read-only on the key registry: public keys come from there, so verifying needs no KMS call at all.
    props.tables.grant(props.role, 'keys', KEY_REGISTRY_READ_ACTIONS);
    // Signs with the VSA key only. On the artifact signing keys it may read public keys (their key policy
    // names it as a reader) and nothing else: it cannot forge an attestation it would then accept.
    props.keys.grantVsaSign(props.role);
    const aliases = (props.pipelines ?? []).map((pipeline) => pipeline.alias);
    if (aliases.length > 0) {
      props.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadSigningPublicKeys',
          actions: ['kms:GetPublicKey', 'kms:DescribeKey'],
          resources: ['*'],
          conditions: {
            StringEquals: {
              [`aws:ResourceTag/${KEY_TAGS.purpose}`]: KEY_PURPOSES.signing,
              [`aws:ResourceTag/${KEY_TAGS.alias}`]: aliases.length === 1 ? aliases[0] : aliases,
            },
          },
        }),
      );
    }
    if (props.vsaSigningAlias) {
      // The rotating summary keys: through their alias only, and only keys tagged as that line's. Their
      // key policy (made by the rotation function) names the promoter as their one signer.
      props.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'SignSummariesThroughAlias',
          actions: ['kms:Sign', 'kms:DescribeKey'],
          resources: ['*'],
          conditions: {
            StringEquals: {
              'kms:RequestAlias': props.vsaSigningAlias,
              [`aws:ResourceTag/${KEY_TAGS.purpose}`]: KEY_PURPOSES.vsa,
              [`aws:ResourceTag/${KEY_TAGS.alias}`]: props.vsaSigningAlias,
            },
          },
        }),
      );
    }
    acknowledge(
      props.role,
      `IAM5[Resource::<${logicalId(props.staging.bucket)}.Arn>/*]`,
      OBJECT_WILDCARD_REASON,
    );
    acknowledge(
      props.role,
      `IAM5[Resource::<${logicalId(props.deployment.bucket)}.Arn>/*]`,
      OBJECT_WILDCARD_REASON,
    );
  }
}
