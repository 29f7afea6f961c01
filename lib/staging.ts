import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { dataBucketProps } from './buckets.ts';
import { RETAINED, retainBucketPolicy } from './retention.ts';

export interface StagingBucketProps {
  /** Encrypts the bucket. */
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  /**
   * Timeout of the function consuming the queue. The visibility timeout is six times this, as Lambda
   * advises, so a message is not redelivered while a batch is still being retried.
   * @default Duration.minutes(15)
   */
  readonly consumerTimeout?: Duration;
  /**
   * Deliveries before a message moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /** @default Duration.days(90) */
  readonly noncurrentVersionExpiration?: Duration;
  /** @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where pipelines upload artifacts and attestations. Every new object becomes a message on an encrypted
 * queue; a message that keeps failing ends in the dead-letter queue instead of being lost.
 */
export class StagingBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  private readonly encryptionKey: kms.IKey;

  /**
   * Reading what was staged, exactly by version, and its encryption key; ListBucket makes a missing
   * object a 404 rather than a 403, which the verifier tells apart (deleted since its event).
   */
  public grantReadStaged(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey.grantDecrypt(grantee);
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resourceArns: [this.bucket.arnForObjects('*')],
    });
  }

  constructor(scope: Construct, id: string, props: StagingBucketProps) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    const consumerTimeout = props.consumerTimeout ?? Duration.minutes(15);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
      throw new Error(`StagingBucket: maxReceiveCount must be an integer 1..1000, found ${maxReceiveCount}`);
    }
    const visibilityTimeout = Duration.seconds(consumerTimeout.toSeconds() * 6);
    if (visibilityTimeout.toSeconds() > 12 * 3600) {
      throw new Error(
        `StagingBucket: consumerTimeout ${consumerTimeout.toHumanString()} needs a visibility timeout of ` +
          `${visibilityTimeout.toHumanString()}, above SQS's 12 hours`,
      );
    }
    const removalPolicy = props.removalPolicy ?? RETAINED;

    this.bucket = new s3.Bucket(
      this,
      'Bucket',
      dataBucketProps({
        encryptionKey: props.encryptionKey,
        accessLogsBucket: props.accessLogsBucket,
        accessLogsPrefix: 'staging/',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
        removalPolicy,
      }),
    );
    retainBucketPolicy(this.bucket, removalPolicy);
    // The queues carry S3 event notifications (bucket, key, size, ETag), never object bytes: SQS-managed
    // encryption protects them at rest without a KMS key policy that would have to name the bucket (a
    // dependency cycle with the bucket's own key) and without a KMS call per message.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new QueueDestination(this.queue));
  }
}

/**
 * The CDK's SqsDestination, with aws:SourceAccount beside aws:SourceArn: S3 may send to the queue only
 * for this bucket, owned by this account (a bucket name alone can be re-created in another account).
 */
class QueueDestination implements s3.IBucketNotificationDestination {
  private readonly queue: sqs.IQueue;

  constructor(queue: sqs.IQueue) {
    this.queue = queue;
  }

  bind(scope: Construct, bucket: s3.IBucketRef): s3.BucketNotificationDestinationConfig {
    this.queue.grantSendMessages(
      new iam.ServicePrincipal('s3.amazonaws.com', {
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketRef.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
        },
      }),
    );
    return {
      arn: this.queue.queueArn,
      type: s3.BucketNotificationDestinationType.QUEUE,
      // S3 checks it may send a test message when the notification is configured: the policy comes first.
      dependencies: [this.queue],
    };
  }
}
