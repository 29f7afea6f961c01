import { type Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_POLICY_PREFIX } from '../lambdas/adapters/policy-store.ts';
import { DEFAULT_POLICY_KEY_ALIAS, KEY_TAGS } from '../lambdas/core/defaults.ts';
import { VERIFIER_ENV } from '../lambdas/verify/config.ts';
import { dataBucketProps } from './buckets.ts';
import { policyChangesOnlyThroughCloudFormation, SIGNING_KEY_ACCOUNT_ACTIONS } from './keys.ts';
import { acknowledge, logicalId } from './nag.ts';
import { RETAINED, retainBucketPolicy } from './retention.ts';

export interface SignedPolicyProps {
  /** Encrypts the policy bucket (the stack's data key). */
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  readonly noncurrentVersionExpiration: Duration;
  /**
   * IAM role or user ARNs that may sign policy bundles with the policy key and push them: named in the
   * key policy and the bucket policy by `aws:PrincipalArn`. Their own IAM policy must allow kms:Sign on
   * the key, s3:PutObject/ListBucket on the bucket and the data key's GenerateDataKey too.
   * @default [] - nobody: the verifier keeps the bundled policy
   */
  readonly signerPrincipalArns?: readonly string[];
  /** @default 'alias/vouch-policy' */
  readonly keyAlias?: string;
}

/**
 * Policy outside the deploy: a versioned, encrypted bucket of signed policy bundles, each written once
 * and never deleted (its bucket policy refuses deletes and unconditional writes, so a version cannot be
 * replaced, nor a newer one removed to roll verifiers back), and the policy's own KMS signing key, which
 * only the named principals may sign with: IAM cannot hand out its kms:Sign, nor change its key policy.
 */
export class SignedPolicy extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly key: kms.Key;
  public readonly alias: kms.Alias;
  public readonly prefix = DEFAULT_POLICY_PREFIX;

  constructor(scope: Construct, id: string, props: SignedPolicyProps) {
    super(scope, id);
    const signers = props.signerPrincipalArns ?? [];
    this.bucket = new s3.Bucket(
      this,
      'Bucket',
      dataBucketProps({
        encryptionKey: props.encryptionKey,
        accessLogsBucket: props.accessLogsBucket,
        accessLogsPrefix: 'policy/',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration,
        removalPolicy: RETAINED,
      }),
    );
    retainBucketPolicy(this.bucket, RETAINED);
    const versions = this.bucket.arnForObjects(`${this.prefix}*`);
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PolicyVersionsAreNeverDeleted',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutLifecycleConfiguration'],
        resources: [versions, this.bucket.bucketArn],
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PolicyVersionsAreWrittenOnce',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [versions],
        conditions: { Null: { 's3:if-none-match': 'true' } },
      }),
    );
    if (signers.length > 0)
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'PolicySignersPush',
          principals: [new iam.AccountRootPrincipal()],
          actions: ['s3:PutObject', 's3:GetObject', 's3:ListBucket'],
          resources: [versions, this.bucket.bucketArn],
          conditions: { ArnEquals: { 'aws:PrincipalArn': [...signers] } },
        }),
      );

    const keyPolicy = new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'AccountAdministersAndVerifies',
          principals: [new iam.AccountRootPrincipal()],
          actions: SIGNING_KEY_ACCOUNT_ACTIONS,
          resources: ['*'],
        }),
        // As for the VSA key: the key policy changes only through a deployment of this stack.
        policyChangesOnlyThroughCloudFormation(),
        ...(signers.length > 0
          ? [
              new iam.PolicyStatement({
                sid: 'PolicySignersSign',
                principals: [new iam.AccountRootPrincipal()],
                actions: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'],
                resources: ['*'],
                conditions: { ArnEquals: { 'aws:PrincipalArn': [...signers] } },
              }),
            ]
          : []),
      ],
    });
    this.key = new kms.Key(this, 'Key', {
      description: 'Vouch policy key: signs policy bundles the verifier loads',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      policy: keyPolicy,
      removalPolicy: RETAINED,
    });
    Tags.of(this.key).add(KEY_TAGS.purpose, 'policy');
    this.alias = new kms.Alias(this, 'Alias', {
      aliasName: props.keyAlias ?? DEFAULT_POLICY_KEY_ALIAS,
      targetKey: this.key,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /**
   * Lets a verifier function list and read the policy versions and read the policy key's public key, and
   * tells it where they are.
   */
  grantRead(verifier: lambda.Function): void {
    verifier.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadPolicyVersions',
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${this.prefix}*`)],
      }),
    );
    verifier.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListPolicyVersions',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.prefix}*`] } },
      }),
    );
    this.key.grant(verifier, 'kms:GetPublicKey');
    verifier.addEnvironment(VERIFIER_ENV.policyBucket, this.bucket.bucketName);
    verifier.addEnvironment(VERIFIER_ENV.policyPrefix, this.prefix);
    verifier.addEnvironment(VERIFIER_ENV.policyKeyId, this.key.keyArn);
    if (verifier.role)
      acknowledge(
        verifier.role,
        `IAM5[Resource::<${logicalId(this.bucket)}.Arn>/${this.prefix}*]`,
        'Policy versions are policy/v<NNNNNNNNNN>.sigstore.json, one object per version: read-only, this prefix only.',
      );
  }
}
