import { relative } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PROJECT_ROOT, VouchFunction } from './function.ts';
import { PURPOSE_TAG, SIGNING_PURPOSE, type VouchKeys } from './keys.ts';
import { acknowledge, logicalId, OBJECT_WILDCARD_REASON, SCHEDULER_INVOKE_REASON } from './nag.ts';
import type { VouchTables } from './tables.ts';

export interface VerifierProps {
  /**
   * The verifier's role, which is also the promoter: the one principal the deployment bucket accepts
   * writes from. Passed in so the deployment bucket's policy can name it.
   */
  readonly role: iam.IRole;
  readonly stagingBucket: s3.IBucket;
  readonly queue: sqs.IQueue;
  /** Where revocation re-checks that fail every retry are sent (the staging queue's DLQ). */
  readonly deadLetterQueue: sqs.IQueue;
  readonly deploymentBucket: s3.IBucket;
  /** Encrypts both buckets: the verifier decrypts staged objects and encrypts promoted ones. */
  readonly dataKey: kms.IKey;
  readonly tables: VouchTables;
  readonly keys: VouchKeys;
  /**
   * The alias of the artifact signing keys, whose public keys the verifier may read.
   * @default - no access to signing keys at all
   */
  readonly signingKeyAlias?: string;
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
   * Reserve `concurrency` plus {@link MAINTENANCE_HEADROOM} for the function. Lambda keeps min(100,
   * account limit) unreserved, so a reservation fails the deployment on accounts with a low limit.
   * @default false
   */
  readonly reserveConcurrency?: boolean;
  /** @default 5 */
  readonly batchSize?: number;
  /** @default 3600 */
  readonly pendingDeadlineSeconds?: number;
  /** How often artifacts pending past their deadline are swept into rejections. @default Duration.minutes(15) */
  readonly sweepInterval?: Duration;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The verifier and promoter: consumes the staging queue, verifies, records, promotes; every
 * `sweepInterval` rejects artifacts whose attestations never came; and on a key's revocation (the key
 * registry's stream) re-checks and pulls what that key vouched for.
 */
/**
 * Invocations the function needs beside its SQS batches when its concurrency is reserved: one for the
 * scheduled sweep and one for the key registry's stream (one shard for a table this small). Without
 * them a sweep or a re-check could take the slot of an SQS batch, and a throttled SQS batch comes back
 * only after the visibility timeout, burning a receive count on its way to the dead-letter queue.
 */
export const MAINTENANCE_HEADROOM = 2;

export class Verifier extends Construct {
  public readonly function: VouchFunction;
  public readonly sweepSchedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: VerifierProps) {
    super(scope, id);
    const concurrency = props.concurrency ?? 10;
    const policyAsset = relative(PROJECT_ROOT, props.policyFile);
    if (policyAsset.startsWith('..')) {
      throw new Error(
        `Verifier: the policy file must be inside the project (${PROJECT_ROOT}), found ${props.policyFile}`,
      );
    }
    this.function = new VouchFunction(this, 'Verifier', {
      entry: 'lambdas/verify/handler.ts',
      description: 'Vouch verifier: verifies staged artifacts, records decisions, promotes verified bytes',
      role: props.role,
      memorySize: props.memorySize ?? 1769,
      timeout: props.timeout ?? Duration.minutes(15),
      ...(props.reserveConcurrency
        ? { reservedConcurrentExecutions: concurrency + MAINTENANCE_HEADROOM }
        : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      assets: { 'policy.yaml': policyAsset, trust: 'lambdas/core/trust' },
      environment: {
        VOUCH_STAGING_BUCKET: props.stagingBucket.bucketName,
        VOUCH_DEPLOYMENT_BUCKET: props.deploymentBucket.bucketName,
        VOUCH_RECORDS_TABLE: props.tables.records.tableName,
        VOUCH_INDEX_TABLE: props.tables.index.tableName,
        VOUCH_KEYS_TABLE: props.tables.keys.tableName,
        VOUCH_VSA_KEY_ID: props.keys.vsaKey.keyArn,
        VOUCH_POLICY_PATH: '/var/task/policy.yaml',
        VOUCH_TRUSTED_ROOT_PATH: '/var/task/trust/public-good.trusted_root.json',
        VOUCH_PENDING_DEADLINE_SECONDS: String(props.pendingDeadlineSeconds ?? 3600),
        POWERTOOLS_SERVICE_NAME: 'vouch-verifier',
        POWERTOOLS_METRICS_NAMESPACE: 'Vouch',
      },
    });
    const fn = this.function.function;

    fn.addEventSource(
      new lambdaEvents.SqsEventSource(props.queue, {
        batchSize: props.batchSize ?? 5,
        reportBatchItemFailures: true,
        maxConcurrency: concurrency,
      }),
    );

    // A revocation in the key registry re-checks what the key vouched for (lambdas/verify/handler.ts).
    fn.addEventSource(
      new lambdaEvents.DynamoEventSource(props.tables.keys, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        retryAttempts: 10,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        parallelizationFactor: 1,
        onFailure: new lambdaEvents.SqsDlq(props.deadLetterQueue),
        filters: [
          lambda.FilterCriteria.filter({
            dynamodb: { NewImage: { revokedAt: { S: lambda.FilterRule.exists() } } },
          }),
        ],
      }),
    );
    acknowledge(
      props.role,
      'IAM5[Resource::*]',
      'dynamodb:ListStreams has no resource-level permissions; the other stream actions name the key table ' +
        'stream. Signing keys are created at run time: reading their public keys is limited by their tags.',
    );

    // Staging: read exactly the version in the event. ListBucket makes a missing object a 404, not a 403.
    props.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadStagedObjects',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [props.stagingBucket.arnForObjects('*')],
      }),
    );
    props.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListBuckets',
        actions: ['s3:ListBucket'],
        resources: [props.stagingBucket.bucketArn, props.deploymentBucket.bucketArn],
      }),
    );
    // Deployment: write promoted objects and VSAs, read back its own incoming copies, remove failed ones.
    props.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PromoteObjects',
        actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: [props.deploymentBucket.arnForObjects('*')],
      }),
    );
    props.dataKey.grant(props.role, 'kms:Decrypt', 'kms:GenerateDataKey');

    props.tables.grant(props.role, 'records', ['GetItem', 'PutItem', 'UpdateItem', 'Query']);
    props.tables.grant(props.role, 'index', ['GetItem', 'PutItem', 'DeleteItem', 'Query']);
    // Read-only on the key registry: public keys come from there, so verifying needs no KMS call at all.
    props.tables.grant(props.role, 'keys', ['GetItem', 'BatchGetItem', 'Query']);
    // Signs with the VSA key only. On the artifact signing keys it may read public keys (their key policy
    // names it as a reader) and nothing else: it cannot forge an attestation it would then accept.
    props.keys.grantVsaSign(props.role);
    if (props.signingKeyAlias) {
      props.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadSigningPublicKeys',
          actions: ['kms:GetPublicKey', 'kms:DescribeKey'],
          resources: ['*'],
          conditions: {
            StringEquals: {
              [`aws:ResourceTag/${PURPOSE_TAG}`]: SIGNING_PURPOSE,
              'aws:ResourceTag/vouch:alias': props.signingKeyAlias,
            },
          },
        }),
      );
    }

    acknowledge(
      props.role,
      `IAM5[Resource::<${logicalId(props.stagingBucket)}.Arn>/*]`,
      OBJECT_WILDCARD_REASON,
    );
    acknowledge(
      props.role,
      `IAM5[Resource::<${logicalId(props.deploymentBucket)}.Arn>/*]`,
      OBJECT_WILDCARD_REASON,
    );

    this.sweepSchedule = new scheduler.Schedule(this, 'SweepSchedule', {
      description: 'Rejects artifacts still waiting for attestations after their deadline',
      schedule: scheduler.ScheduleExpression.rate(props.sweepInterval ?? Duration.minutes(15)),
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject({ action: 'sweep' }),
        retryAttempts: 2,
      }),
    });
    acknowledge(Stack.of(this), `IAM5[Resource::<${logicalId(fn)}.Arn>:*]`, SCHEDULER_INVOKE_REASON);
  }
}
