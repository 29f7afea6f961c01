import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RETAINED, retainBucketPolicy } from './retention.ts';

export interface AccessLogBucketProps {
  /**
   * Log objects expire after this long.
   * @default Duration.days(365)
   */
  readonly expiration?: Duration;
  /** @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE */
  readonly removalPolicy?: RemovalPolicy;
}

/** Receives the server access logs of the staging and deployment buckets. */
export class AccessLogBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogBucketProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RETAINED;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [
        {
          id: 'ExpireLogs',
          expiration: props.expiration ?? Duration.days(365),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy,
    });
    retainBucketPolicy(this.bucket, removalPolicy);
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the access log bucket itself: logging it into itself would log its own log deliveries forever, ' +
        'and a second log bucket would only move the finding.',
    });
  }
}

/** What every Vouch data bucket shares: versioned, SSE-KMS with bucket keys, private, TLS only, logged. */
export interface DataBucketOptions {
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  readonly accessLogsPrefix: string;
  readonly noncurrentVersionExpiration: Duration;
  readonly removalPolicy: RemovalPolicy;
}

export function dataBucketProps(options: DataBucketOptions): s3.BucketProps {
  return {
    versioned: true,
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: options.encryptionKey,
    // One data key per bucket instead of a KMS call per object: large and frequent uploads stay cheap
    // and clear of KMS request quotas.
    bucketKeyEnabled: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    serverAccessLogsBucket: options.accessLogsBucket,
    serverAccessLogsPrefix: options.accessLogsPrefix,
    lifecycleRules: [
      {
        id: 'ExpireNoncurrentVersions',
        noncurrentVersionExpiration: options.noncurrentVersionExpiration,
        abortIncompleteMultipartUploadAfter: Duration.days(7),
        expiredObjectDeleteMarker: true,
      },
    ],
    removalPolicy: options.removalPolicy,
  };
}
