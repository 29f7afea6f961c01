import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DeployerAccess, GithubUploader } from './access.ts';
import { AccessLogBucket } from './buckets.ts';
import { LambdaCodeSigning } from './code-signing.ts';
import type { VouchConfig } from './config.ts';
import { DeploymentBucket } from './deployment.ts';
import { DecisionEvents } from './events.ts';
import { lambdaRole } from './function.ts';
import { VouchKeys } from './keys.ts';
import { Monitoring } from './monitoring.ts';
import { acknowledge } from './nag.ts';
import { SignedPolicy } from './policy.ts';
import { KeyRotation } from './rotation.ts';
import { StagingBucket } from './staging.ts';
import { VouchTables } from './tables.ts';
import { TrustRefresher } from './trust.ts';
import { Verifier } from './verifier.ts';

export interface VouchStackProps extends StackProps {
  readonly config: VouchConfig;
}

/**
 * The whole gate: staging bucket → queue → verifier/promoter → deployment bucket, the tables that
 * record every decision and every key, the rotating signing keys, and the alarms. Stateful resources
 * are retained when the stack is deleted: the records are the audit trail, and old keys verify old
 * signatures.
 */
export class VouchStack extends Stack {
  public readonly staging: StagingBucket;
  public readonly deployment: DeploymentBucket;
  public readonly tables: VouchTables;
  public readonly keys: VouchKeys;
  public readonly verifier: Verifier;
  public readonly rotation: KeyRotation;
  public readonly trust: TrustRefresher;
  public readonly uploader?: GithubUploader;
  public readonly deployer: DeployerAccess;
  public readonly policy: SignedPolicy;
  public readonly events: DecisionEvents;

  constructor(scope: Construct, id: string, props: VouchStackProps) {
    super(scope, id, { description: 'Vouch: verifies signed attestations before artifacts ship', ...props });
    const config = props.config;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const verifierTimeout = Duration.minutes(15);

    this.keys = new VouchKeys(this, 'Keys', { vsaKeyAlias: config.vsaKeyAlias });
    const dataKey = this.keys.dataKey;
    const accessLogs = new AccessLogBucket(this, 'AccessLogs', {
      expiration: Duration.days(config.accessLogExpirationDays),
    });
    this.tables = new VouchTables(this, 'Tables', {
      encryptionKey: dataKey,
      deletionProtection: config.deletionProtection,
    });
    this.staging = new StagingBucket(this, 'Staging', {
      encryptionKey: dataKey,
      accessLogsBucket: accessLogs.bucket,
      consumerTimeout: verifierTimeout,
      maxReceiveCount: config.maxReceiveCount,
      noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpirationDays),
    });

    const promoter = lambdaRole(
      this,
      'PromoterRole',
      'Vouch verifier and promoter: the only principal that writes the deployment bucket',
    );
    this.deployment = new DeploymentBucket(this, 'Deployment', {
      encryptionKey: dataKey,
      accessLogsBucket: accessLogs.bucket,
      writer: promoter,
      noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpirationDays),
      ...(config.objectLock
        ? { objectLock: { mode: config.objectLock.mode, retention: Duration.days(config.objectLock.days) } }
        : {}),
    });

    this.verifier = new Verifier(this, 'Verifier', {
      role: promoter,
      staging: this.staging,
      deployment: this.deployment,
      tables: this.tables,
      keys: this.keys,
      policyFile: config.policyFile,
      signingKeyAlias: config.signingKeyAlias,
      memorySize: config.verifierMemoryMb,
      timeout: verifierTimeout,
      concurrency: config.verifierConcurrency,
      reserveConcurrency: config.reserveConcurrency,
      batchSize: config.verifierBatchSize,
      batchingWindow: Duration.seconds(config.verifierBatchingWindowSeconds),
      pendingDeadline: Duration.seconds(config.pendingDeadlineSeconds),
      vsaValidity: Duration.days(config.vsaValidityDays),
      logRetention,
    });

    if (config.github) {
      this.uploader = new GithubUploader(this, 'Uploader', {
        stagingBucket: this.staging.bucket,
        dataKey,
        signingKeyAlias: config.signingKeyAlias,
        owner: config.github.owner,
        repo: config.github.repo,
        branches: config.github.branches,
        createOidcProvider: config.github.createOidcProvider,
        ...(config.github.oidcProviderArn ? { oidcProviderArn: config.github.oidcProviderArn } : {}),
      });
    }
    this.rotation = new KeyRotation(this, 'Rotation', {
      tables: this.tables,
      alias: config.signingKeyAlias,
      keySpec: config.keySpec,
      period: Duration.days(config.rotationPeriodDays),
      grace: Duration.days(config.graceDays),
      retention: Duration.days(config.retentionDays),
      deletionWindow: Duration.days(config.deletionWindowDays),
      checkInterval: Duration.hours(config.rotationCheckHours),
      // Named in every signing key's policy: sign through the alias, read the public key.
      signers: this.uploader ? [this.uploader.role] : [],
      externalSignerArns: config.signerPrincipalArns,
      readers: [promoter],
      logRetention,
    });
    this.keys.denyManagementBy(this.rotation.role);

    if (config.codeSigning) {
      const codeSigning = new LambdaCodeSigning(this, 'CodeSigning', {
        accessLogsBucket: accessLogs.bucket,
        logRetention,
      });
      for (const fn of this.verifier.functions) codeSigning.sign(fn);
      codeSigning.sign(this.rotation.function);
    }

    this.deployer = new DeployerAccess(this, 'Deployer', {
      deploymentBucket: this.deployment.bucket,
      dataKey,
      keys: this.keys,
      principalArns: config.deployerPrincipalArns,
    });

    const monitoring = new Monitoring(this, 'Monitoring', {
      verifier: this.verifier.function.function,
      recheck: this.verifier.recheckFunction.function,
      sweep: this.verifier.sweepFunction.function,
      rotation: this.rotation.function.function,
      rotationDeferrals: this.rotation.deferrals,
      queue: this.staging.queue,
      deadLetterQueue: this.staging.deadLetterQueue,
      encryptionKey: dataKey,
      dashboardName: config.stackName,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    });

    // Sigstore trusted roots kept current through TUF; the verifier reads them (public-good by default).
    this.trust = new TrustRefresher(this, 'Trust', {
      encryptionKey: dataKey,
      accessLogsBucket: accessLogs.bucket,
      alarmTopic: monitoring.topic,
      noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpirationDays),
      logRetention,
    });
    for (const fn of this.verifier.functions) this.trust.grantRead(fn.function);

    // Policy outside the deploy: signed versions the verifier loads (the bundled file while there are none).
    this.policy = new SignedPolicy(this, 'Policy', {
      encryptionKey: dataKey,
      accessLogsBucket: accessLogs.bucket,
      noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpirationDays),
      signerPrincipalArns: config.policySignerPrincipalArns,
      keyAlias: config.policyKeyAlias,
    });
    this.events = new DecisionEvents(this, 'Events', {
      encryptionKey: dataKey,
      topic: config.decisionTopic,
      ...(config.decisionWebhook ? { webhook: config.decisionWebhook } : {}),
    });
    for (const fn of this.verifier.functions) {
      this.policy.grantRead(fn.function);
      this.events.grantPublish(fn.function);
    }

    this.outputs();
    acknowledge(
      this,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The CDK's own handler that configures S3 bucket notifications at deploy time; it handles no artifact.",
    );
  }

  private outputs() {
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out(
      'StagingBucketName',
      this.staging.bucket.bucketName,
      'Where pipelines upload artifacts and attestations',
    );
    out(
      'DeploymentBucketName',
      this.deployment.bucket.bucketName,
      'Where deployers fetch verified artifacts',
    );
    out('RecordsTableName', this.tables.records.tableName, 'VOUCH_RECORDS_TABLE: every decision');
    out('IndexTableName', this.tables.index.tableName, 'VOUCH_INDEX_TABLE: attestations by digest');
    out('KeysTableName', this.tables.keys.tableName, 'VOUCH_KEYS_TABLE: the signing-key registry');
    out('SigningKeyAlias', this.rotation.alias, 'vouch sign --key <this>');
    out(
      'RotationFunctionName',
      this.rotation.function.function.functionName,
      'aws lambda invoke --function-name <this> --payload \'{"force":true}\' to rotate now',
    );
    out('VsaKeyAlias', this.keys.vsaKeyAlias.aliasName, 'vouch fetch --vsa-key <this>');
    out('TrustBucketName', this.trust.bucket.bucketName, 'vouch trust show --store s3://<this>/trust-roots/');
    out('PolicyBucketName', this.policy.bucket.bucketName, 'VOUCH_POLICY_BUCKET: vouch policy push|show');
    out('PolicyKeyAlias', this.policy.alias.aliasName, 'VOUCH_POLICY_KEY_ID: vouch policy sign --key <this>');
    out('EventBusName', this.events.bus.eventBusName, 'Decision events (source "vouch")');
    if (this.events.topic)
      out('DecisionTopicArn', this.events.topic.topicArn, 'Decision events, fanned out to SNS');
    out('DeadLetterQueueUrl', this.staging.deadLetterQueue.queueUrl, 'Events that failed every retry');
    out('DeployerPolicyArn', this.deployer.policy.managedPolicyArn, 'Attach to roles that run vouch fetch');
    if (this.deployer.role) out('DeployerRoleArn', this.deployer.role.roleArn, 'Role for vouch fetch');
    if (this.uploader) {
      out(
        'UploaderRoleArn',
        this.uploader.role.roleArn,
        'role-to-assume for aws-actions/configure-aws-credentials',
      );
      out('UploaderPrefix', this.uploader.prefix, 'The staging prefix the uploader role may write');
    }
  }
}
