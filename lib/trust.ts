import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { dataBucketProps } from './buckets.ts';
import { lambdaRole, PROJECT_ROOT, VouchFunction } from './function.ts';
import { acknowledge, logicalId, SCHEDULER_INVOKE_REASON } from './nag.ts';
import { RETAINED, retainBucketPolicy } from './retention.ts';

/** Where the refresher writes and the verifier reads (see lambdas/adapters/trust-store.ts). */
export const TRUST_PREFIX = 'trust-roots/';

export interface TrustInstanceProps {
  /** `public-good`, `github`, or another instance's name. */
  readonly name: string;
  /** Its TUF repository. @default public-good's or GitHub's own; required for any other instance */
  readonly mirror?: string;
  /**
   * Its TUF root.json, relative to the project root, bundled with the refresher (public-good's ships
   * with Vouch). For `github`: GitHub's TUF root, obtained from GitHub and checked out of band.
   * @default - public-good only
   */
  readonly tufRootFile?: string;
}

export interface TrustRefresherProps {
  /** Encrypts the trust bucket (the stack's data key). */
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  /** @default [{ name: 'public-good' }] */
  readonly instances?: readonly TrustInstanceProps[];
  /** How often each instance's TUF repository is checked. @default Duration.hours(6) */
  readonly refreshInterval?: Duration;
  /**
   * Alarm when an instance's stored root has not been confirmed current for this long (refreshes failing
   * or not running). Sigstore's TUF timestamps last days, not weeks: a root this old may miss a
   * revocation. @default Duration.days(2)
   */
  readonly maxAge?: Duration;
  /** Where the alarms go. @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** @default Duration.days(365) */
  readonly noncurrentVersionExpiration?: Duration;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Keeps every configured Sigstore instance's trusted root current through its TUF repository: a
 * scheduled function (lambdas/trust/handler.ts) verifies new TUF metadata and stores each verified
 * version, with that metadata, in its own versioned bucket. Its role may read and write that bucket's
 * `trust-roots/` objects and nothing else (no delete). Verifiers are given read access to the current
 * roots only (`grantRead`). It runs once after each deployment (asynchronously: a repository out of reach
 * does not fail a deployment), then on the schedule; alarms say when a refresh fails and when a root has
 * gone unconfirmed for `maxAge`.
 */
export class TrustRefresher extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly role: iam.Role;
  public readonly function: VouchFunction;
  public readonly schedule: scheduler.Schedule;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly instances: readonly TrustInstanceProps[];

  constructor(scope: Construct, id: string, props: TrustRefresherProps) {
    super(scope, id);
    this.instances = props.instances ?? [{ name: 'public-good' }];
    const interval = props.refreshInterval ?? Duration.hours(6);
    const maxAge = props.maxAge ?? Duration.days(2);
    validate(this.instances, interval, maxAge);

    this.bucket = new s3.Bucket(
      this,
      'Bucket',
      dataBucketProps({
        encryptionKey: props.encryptionKey,
        accessLogsBucket: props.accessLogsBucket,
        accessLogsPrefix: 'trust/',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(365),
        removalPolicy: RETAINED,
      }),
    );
    // Its policy is retained with it, so a destroyed stack leaves no unprotected bucket (README: Teardown).
    retainBucketPolicy(this.bucket, RETAINED);
    this.role = lambdaRole(this, 'Role', 'Vouch trust refresher: verifies and stores Sigstore trusted roots');
    const assets: Record<string, string> = {};
    const specs = this.instances.map((instance) => {
      if (!instance.tufRootFile)
        return { name: instance.name, ...(instance.mirror ? { mirror: instance.mirror } : {}) };
      const bundled = `${instance.name}.tuf-root.json`;
      assets[bundled] = instance.tufRootFile;
      return {
        name: instance.name,
        tufRoot: bundled,
        ...(instance.mirror ? { mirror: instance.mirror } : {}),
      };
    });
    this.function = new VouchFunction(this, 'Refresher', {
      entry: 'lambdas/trust/handler.ts',
      description: "Vouch trust refresher: each Sigstore instance's trusted root, through TUF",
      role: this.role,
      memorySize: 256,
      timeout: Duration.minutes(2),
      // No reserved concurrency (a reservation can fail the first deploy on a low account limit): two
      // refreshes at once are harmless, the store's conditional writes keep the newest version.
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      assets,
      environment: {
        VOUCH_TRUST_BUCKET: this.bucket.bucketName,
        VOUCH_TRUST_PREFIX: TRUST_PREFIX,
        VOUCH_TRUST_INSTANCES: JSON.stringify(specs),
        POWERTOOLS_SERVICE_NAME: 'vouch-trust',
        POWERTOOLS_METRICS_NAMESPACE: 'Vouch',
      },
    });

    // Objects under the prefix: read and write, never delete (a kept version is evidence).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteTrustRoots',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [this.bucket.arnForObjects(`${TRUST_PREFIX}*`)],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListTrustRoots',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${TRUST_PREFIX}*`] } },
      }),
    );
    props.encryptionKey.grant(this.role, 'kms:Decrypt', 'kms:GenerateDataKey');
    acknowledge(
      this.role,
      `IAM5[Resource::<${logicalId(this.bucket)}.Arn>/${TRUST_PREFIX}*]`,
      'Object keys are INSTANCE/current.json and INSTANCE/versions/…, written by the refresher as roots are verified; the grant covers this bucket’s trust-roots/ prefix only.',
    );

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: "Refreshes each Sigstore instance's trusted root through TUF",
      schedule: scheduler.ScheduleExpression.rate(interval),
      target: new targets.LambdaInvoke(this.function.function, {
        input: scheduler.ScheduleTargetInput.fromObject({}),
        retryAttempts: 2,
      }),
    });
    acknowledge(
      Stack.of(this),
      `IAM5[Resource::<${logicalId(this.function.function)}.Arn>:*]`,
      SCHEDULER_INVOKE_REASON,
    );
    new triggers.Trigger(this, 'FirstRefresh', {
      handler: this.function.function,
      executeAfter: [this.bucket],
      invocationType: triggers.InvocationType.EVENT,
    });

    this.alarmsFor(interval, maxAge, props.alarmTopic);
  }

  /**
   * Lets a verifier read the current roots (only `INSTANCE/current.json`), and tells it where they are and
   * which instances to hold: the refresher's.
   */
  grantRead(verifier: lambda.Function): void {
    verifier.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadCurrentTrustRoots',
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${TRUST_PREFIX}*/current.json`)],
      }),
    );
    verifier.addEnvironment('VOUCH_TRUST_BUCKET', this.bucket.bucketName);
    verifier.addEnvironment('VOUCH_TRUST_PREFIX', TRUST_PREFIX);
    verifier.addEnvironment(
      'VOUCH_TRUST_INSTANCES',
      JSON.stringify(this.instances.map((instance) => ({ name: instance.name }))),
    );
    if (verifier.role)
      acknowledge(
        verifier.role,
        `IAM5[Resource::<${logicalId(this.bucket)}.Arn>/${TRUST_PREFIX}*/current.json]`,
        'One current.json per configured Sigstore instance: read-only, the current roots and nothing else.',
      );
  }

  private alarmsFor(interval: Duration, maxAge: Duration, topic: sns.ITopic | undefined) {
    // One datapoint per run: a period of one interval sees one; with none, the refresher is not running.
    const period = Duration.seconds(Math.min(Math.max(interval.toSeconds(), 3600), 86_400));
    for (const instance of this.instances) {
      const metric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'Vouch',
          metricName,
          dimensionsMap: { service: 'vouch-trust', instance: instance.name },
          statistic: 'Maximum',
          period,
        });
      this.alarm(`Stale-${instance.name}`, topic, {
        metric: metric('TrustRootAgeHours'),
        threshold: maxAge.toHours(),
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: `The ${instance.name} trusted root has not been confirmed current for ${maxAge.toHours()} h (or the refresher is not running): the verifier keeps using it, and may miss a revoked or added authority.`,
      });
      this.alarm(`RefreshFailed-${instance.name}`, topic, {
        metric: metric('TrustRootRefreshFailed'),
        threshold: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Refreshing the ${instance.name} trusted root failed or was refused (see the refresher's log): the last verified root stays in use.`,
      });
    }
  }

  private alarm(
    id: string,
    topic: sns.ITopic | undefined,
    props: Pick<cloudwatch.AlarmProps, 'metric' | 'threshold' | 'treatMissingData' | 'alarmDescription'>,
  ) {
    const alarm = new cloudwatch.Alarm(this, id, {
      ...props,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    if (topic) alarm.addAlarmAction(new actions.SnsAction(topic));
    this.alarms.push(alarm);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function validate(instances: readonly TrustInstanceProps[], interval: Duration, maxAge: Duration) {
  if (instances.length === 0) throw new Error('TrustRefresher: instances is empty; list at least one');
  const seen = new Set<string>();
  for (const instance of instances) {
    if (!NAME.test(instance.name))
      throw new Error(`TrustRefresher: instance name ${JSON.stringify(instance.name)} is not valid`);
    if (seen.has(instance.name)) throw new Error(`TrustRefresher: instance ${instance.name} is listed twice`);
    seen.add(instance.name);
    if (instance.name !== 'public-good' && !instance.tufRootFile) {
      throw new Error(
        `TrustRefresher: instance ${instance.name} needs tufRootFile (its TUF root.json); only public-good's ships with Vouch`,
      );
    }
    if (!['public-good', 'github'].includes(instance.name) && !instance.mirror) {
      throw new Error(`TrustRefresher: instance ${instance.name} needs a mirror (its TUF repository URL)`);
    }
    if (instance.tufRootFile) {
      // Copied into the bundle from the project root: a path inside the project, as the policy file's.
      if (isAbsolute(instance.tufRootFile) || instance.tufRootFile.split(/[\\/]/).includes('..'))
        throw new Error(
          `TrustRefresher: ${instance.name}'s tufRootFile must be a path inside the project, found ${instance.tufRootFile}`,
        );
      const path = resolve(PROJECT_ROOT, instance.tufRootFile);
      if (!existsSync(path))
        throw new Error(`TrustRefresher: ${instance.name}'s tufRootFile ${path} does not exist`);
    }
  }
  if (maxAge.toSeconds() <= interval.toSeconds())
    throw new Error(
      `TrustRefresher: maxAge (${maxAge.toHumanString()}) must be longer than refreshInterval (${interval.toHumanString()})`,
    );
}
