import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Metrics the verifier publishes (lambdas/verify/handler.ts), in the `Vouch` namespace. */
const NAMESPACE = 'Vouch';
const DIMENSIONS = { service: 'vouch-verifier' };

export interface MonitoringProps {
  readonly verifier: lambda.IFunction;
  /** The revocation re-check (the key registry's stream). */
  readonly recheck: lambda.IFunction;
  /** The sweep (its schedule). */
  readonly sweep: lambda.IFunction;
  readonly rotation: lambda.IFunction;
  /** Rotations deferred after a deployment. @default - no alarm on them */
  readonly rotationDeferrals?: cloudwatch.IMetric;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Encrypts the alarm topic. */
  readonly encryptionKey: kms.IKey;
  /** @default - the topic has no subscription */
  readonly alarmEmail?: string;
  /** The dashboard's name. @default 'Vouch' */
  readonly dashboardName?: string;
}

/**
 * One dashboard for the gate (decisions, latency, queue depth, dead letters, errors) and the alarms that
 * mean a human must look: a message in the DLQ, a verifier that fails or falls behind, a failed rotation.
 */
export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Vouch alarms',
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one, so without this statement CloudWatch cannot publish and
    // no alarm ever arrives. Only this account's alarms may.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const vouch = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: NAMESPACE,
        metricName,
        dimensionsMap: DIMENSIONS,
        statistic,
        period: Duration.minutes(5),
      });

    this.alarm('DeadLetters', {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      alarmDescription:
        'An S3 event failed every retry and sits in the dead-letter queue: its object was not verified.',
    });
    this.alarm('QueueFallingBehind', {
      metric: props.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
      threshold: 15 * 60,
      alarmDescription: 'Uploads have waited more than 15 minutes for verification.',
    });
    this.alarm('VerifierErrors', {
      metric: props.verifier.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      alarmDescription: 'The verifier function failed (crash or timeout).',
    });
    this.alarm('RecheckErrors', {
      metric: props.recheck.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      alarmDescription:
        'A revocation re-check failed: an artifact a revoked key vouched for may still be promoted (it is retried).',
    });
    this.alarm('SweepErrors', {
      metric: props.sweep.metricErrors({ period: Duration.hours(1) }),
      threshold: 1,
      alarmDescription:
        'The sweep failed: expired pending artifacts or abandoned promotions were not finished.',
    });
    this.alarm('ProcessingErrors', {
      metric: vouch('ProcessingErrors'),
      threshold: 5,
      alarmDescription: 'Infrastructure faults while processing uploads (they are retried; see the logs).',
    });
    this.alarm('RotationErrors', {
      metric: props.rotation.metricErrors({ period: Duration.hours(1) }),
      threshold: 1,
      alarmDescription: 'A key rotation run failed: the signing key may be overdue for rotation.',
    });
    if (props.rotationDeferrals) {
      this.alarm('RotationDeferred', {
        metric: props.rotationDeferrals,
        threshold: 1,
        alarmDescription:
          'The rotation after a deployment kept meeting transient errors and was deferred to the next scheduled ' +
          'run: after a first deployment there may be no signing key yet (vouch keys list).',
      });
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? 'Vouch',
      defaultInterval: Duration.hours(24),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Decisions',
        left: ['Verified', 'Promoted', 'Rejected', 'Pending', 'Quarantined'].map((name) => vouch(name)),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Verification latency (ms)',
        left: [vouch('VerificationLatency', 'p50'), vouch('VerificationLatency', 'p99')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue',
        left: [
          props.queue.metricApproximateNumberOfMessagesVisible(),
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'Dead letters' }),
        ],
        right: [props.queue.metricApproximateAgeOfOldestMessage()],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors',
        left: [
          props.verifier.metricErrors({ label: 'Verifier errors' }),
          props.verifier.metricThrottles({ label: 'Verifier throttles' }),
          props.recheck.metricErrors({ label: 'Re-check errors' }),
          props.sweep.metricErrors({ label: 'Sweep errors' }),
          vouch('ProcessingErrors'),
          props.rotation.metricErrors({ label: 'Rotation errors' }),
        ],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
  }

  private alarm(
    id: string,
    props: { metric: cloudwatch.IMetric; threshold: number; alarmDescription: string },
  ) {
    const alarm = new cloudwatch.Alarm(this, id, {
      ...props,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
