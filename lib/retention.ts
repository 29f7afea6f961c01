import { RemovalPolicy } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * What Vouch keeps when the stack is deleted or a resource replaced: the audit trail (records, buckets)
 * and the keys old signatures verify against. Retained on update or delete, but not when the create that
 * made it is rolled back: a failed first deployment leaves nothing behind to collide with the retry.
 * Nothing retained has a fixed name, so a deployment after `cdk destroy` creates new resources beside
 * the old ones instead of failing with AlreadyExists.
 */
export const RETAINED = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;

/**
 * Keeps a retained bucket's policy with it. Without this, `cdk destroy` deletes the policy and leaves the
 * bucket without its TLS-only and promoter-only statements.
 */
export function retainBucketPolicy(bucket: s3.Bucket, removalPolicy: RemovalPolicy): void {
  if (removalPolicy === RemovalPolicy.DESTROY) return;
  bucket.policy?.applyRemovalPolicy(removalPolicy);
}
