import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { dataBucketProps } from './buckets.ts';
import { RETAINED, retainBucketPolicy } from './retention.ts';
import { DEPLOYMENT_BUCKET_ROLE, ROLE_METADATA } from './rules.ts';

/** Every action that creates, replaces, deletes or relabels an object or one of its versions. */
export const OBJECT_WRITE_ACTIONS = [
  's3:PutObject',
  's3:PutObjectAcl',
  's3:PutObjectVersionAcl',
  's3:PutObjectTagging',
  's3:PutObjectVersionTagging',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:RestoreObject',
  's3:ReplicateObject',
  's3:ReplicateDelete',
  's3:ReplicateTags',
] as const;

export interface DeploymentObjectLock {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly retention: Duration;
}

export interface DeploymentBucketProps {
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  /** The only principal allowed to write, tag or delete objects: the promoter. */
  readonly writer: iam.IRole;
  /**
   * Default Object Lock retention for promoted versions. Object Lock can only be chosen when the bucket
   * is created; COMPLIANCE mode cannot be shortened by anyone, including the account root.
   * @default - no Object Lock
   */
  readonly objectLock?: DeploymentObjectLock;
  /** @default Duration.days(90) */
  readonly noncurrentVersionExpiration?: Duration;
  /** @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * What deployers fetch from. Its bucket policy denies every object write to every principal but the
 * promoter, whatever their identity policies say: an administrator's `s3:*` does not get around it.
 */
export class DeploymentBucket extends Construct {
  public readonly bucket: s3.Bucket;
  private readonly encryptionKey: kms.IKey;

  /**
   * What promotion does in the bucket: write promoted objects and VSAs (an unversioned artifact as a
   * multipart upload it completes only once the bytes streamed verified, aborting it otherwise), remove
   * the VSAs of failed ones, with the encryption key. The bucket policy lets only its `writer` do it.
   */
  public grantPromote(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey');
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resourceArns: [this.bucket.arnForObjects('*')],
    });
  }

  constructor(scope: Construct, id: string, props: DeploymentBucketProps) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    const lock = props.objectLock;
    if (lock && (lock.retention.toDays() < 1 || !Number.isInteger(lock.retention.toDays()))) {
      throw new Error(
        `DeploymentBucket: objectLock.retention must be a whole number of days >= 1, found ${lock.retention.toHumanString()}`,
      );
    }
    const removalPolicy = props.removalPolicy ?? RETAINED;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...dataBucketProps({
        encryptionKey: props.encryptionKey,
        accessLogsBucket: props.accessLogsBucket,
        accessLogsPrefix: 'deployment/',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
        removalPolicy,
      }),
      ...(lock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              lock.mode === 'COMPLIANCE'
                ? s3.ObjectLockRetention.compliance(lock.retention)
                : s3.ObjectLockRetention.governance(lock.retention),
          }
        : {}),
    });
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyThePromoterWritesObjects',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...OBJECT_WRITE_ACTIONS],
        resources: [this.bucket.arnForObjects('*')],
        // aws:PrincipalArn is the role's ARN for every session of the role, so the promoter's Lambda
        // sessions match, and nothing else does. A request with no principal ARN at all is denied too.
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': props.writer.roleArn } },
      }),
    );
    // The policy outlives the stack with the bucket: after `cdk destroy` nobody writes or deletes objects
    // until an administrator deliberately removes it (README: Teardown).
    retainBucketPolicy(this.bucket, removalPolicy);
    (this.bucket.node.defaultChild as s3.CfnBucket).addMetadata(ROLE_METADATA, DEPLOYMENT_BUCKET_ROLE);
  }
}
