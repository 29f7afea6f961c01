import { CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as signer from 'aws-cdk-lib/aws-signer';
import { Construct } from 'constructs';
import { lambdaRole, VouchFunction } from './function.ts';
import { acknowledge, logicalId } from './nag.ts';
import { RETAINED, retainBucketPolicy } from './retention.ts';

export interface LambdaCodeSigningProps {
  readonly accessLogsBucket: s3.IBucket;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Lambda code signing for Vouch's functions: an AWS Signer profile, a code-signing configuration that
 * enforces it (Lambda refuses any code the profile did not sign), and the signing itself. The CDK
 * uploads bundles unsigned, so without the last part an enforced configuration fails the deployment: a
 * custom resource signs each bundle during the deployment (lambdas/sign-code/) and the function is
 * created from the signed copy.
 *
 * Covered: the functions passed to `sign` (the verifier and the rotation function). Not covered: the
 * signing function itself and the CDK's own deployment helpers (bucket notifications, the trigger),
 * which handle no artifact and no key.
 */
export class LambdaCodeSigning extends Construct {
  public readonly profile: signer.SigningProfile;
  public readonly config: lambda.CodeSigningConfig;
  /** Where signed bundles go. */
  public readonly bucket: s3.Bucket;
  private readonly signingFunction: VouchFunction;
  private readonly signed: CustomResource[] = [];

  constructor(scope: Construct, id: string, props: LambdaCodeSigningProps) {
    super(scope, id);
    this.profile = new signer.SigningProfile(this, 'Profile', {
      platform: signer.Platform.AWS_LAMBDA_SHA384_ECDSA,
    });
    this.config = new lambda.CodeSigningConfig(this, 'Config', {
      signingProfiles: [this.profile],
      untrustedArtifactOnDeployment: lambda.UntrustedArtifactOnDeployment.ENFORCE,
      description: 'Vouch: only code signed by the Vouch signing profile may be deployed',
    });
    this.bucket = new s3.Bucket(this, 'SignedCode', {
      // Lambda and CloudFormation read the code with the deployer's credentials: SSE-S3 needs no key grant.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'signed-code/',
      // A rollback redeploys an earlier signed bundle: keep each for a while, not for ever.
      lifecycleRules: [
        {
          id: 'ExpireSignedCode',
          expiration: Duration.days(90),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
      removalPolicy: RETAINED,
    });
    retainBucketPolicy(this.bucket, RETAINED);

    const role = lambdaRole(
      this,
      'SigningRole',
      'Vouch code signing: signs Vouch function bundles during deployment',
    );
    this.signingFunction = new VouchFunction(this, 'Signing', {
      entry: 'lambdas/sign-code/handler.ts',
      description: 'Vouch code signing: signs function bundles with AWS Signer during deployment',
      role,
      memorySize: 256,
      timeout: Duration.minutes(14),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      environment: { POWERTOOLS_SERVICE_NAME: 'vouch-code-signing' },
    });
    const stack = Stack.of(this);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SignWithTheProfile',
        actions: ['signer:StartSigningJob', 'signer:GetSigningProfile'],
        resources: [this.profile.signingProfileArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FollowSigningJobs',
        actions: ['signer:DescribeSigningJob'],
        resources: [stack.formatArn({ service: 'signer', resource: '/signing-jobs', resourceName: '*' })],
      }),
    );
    // Signer reads the exact version of the bundle and writes the signed copy as this role.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteSignedCode',
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('signed/*')],
      }),
    );
    // cdk-nag names the resource as it is rendered: literal where the stack's environment is known.
    const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
    acknowledge(
      role,
      `IAM5[Resource::arn:${shown(stack.partition, 'AWS::Partition')}:signer:${shown(stack.region, 'AWS::Region')}:` +
        `${shown(stack.account, 'AWS::AccountId')}:/signing-jobs/*]`,
      'Signing job IDs are known only once a job starts; the role may read jobs, not start them elsewhere.',
    );
    acknowledge(
      role,
      `IAM5[Resource::<${logicalId(this.bucket)}.Arn>/signed/*]`,
      'Signed bundles are named by their signing job; the role writes only under signed/ in its own bucket.',
    );
  }

  /**
   * Signs a function's bundle during the deployment, creates the function from the signed copy, and
   * attaches the enforcing code-signing configuration.
   */
  public sign(fn: VouchFunction): void {
    const cfn = fn.function.node.defaultChild as lambda.CfnFunction;
    const code = cfn.code as lambda.CfnFunction.CodeProperty;
    if (!code.s3Bucket || !code.s3Key) {
      throw new Error(`LambdaCodeSigning: ${fn.node.path} has no S3 bundle to sign`);
    }
    const role = this.signingFunction.function.role as iam.IRole;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `ReadBundle${this.signed.length}`,
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [`arn:${Stack.of(this).partition}:s3:::${code.s3Bucket}/${code.s3Key}`],
      }),
    );
    const signed = new CustomResource(this, `Signed${fn.node.id}`, {
      serviceToken: this.signingFunction.function.functionArn,
      resourceType: 'Custom::VouchSignedCode',
      properties: {
        SourceBucket: code.s3Bucket,
        SourceKey: code.s3Key,
        DestinationBucket: this.bucket.bucketName,
        DestinationPrefix: 'signed/',
        ProfileName: this.profile.signingProfileName,
      },
    });
    this.signed.push(signed);
    cfn.code = {
      s3Bucket: Token.asString(signed.getAtt('Bucket')),
      s3Key: Token.asString(signed.getAtt('Key')),
    };
    cfn.codeSigningConfigArn = this.config.codeSigningConfigArn;
  }
}
