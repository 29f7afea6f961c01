import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DEFAULT_PIPELINE } from '../lambdas/core/pipelines.ts';
import { DeployerAccess, githubOidcProvider, PipelineUploader } from './access.ts';
import { AccessLogBucket } from './buckets.ts';
import { LambdaCodeSigning } from './code-signing.ts';
import type { VouchConfig } from './config.ts';
import { DeploymentBucket } from './deployment.ts';
import { DecisionEvents } from './events.ts';
import { lambdaRole } from './function.ts';
import { VouchKeys } from './keys.ts';
import { Monitoring } from './monitoring.ts';
import { acknowledge } from './nag.ts';
import { outputSuffix } from './pipeline-config.ts';
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
  /** Each pipeline's upload role, by pipeline name (pipelines with GitHub repositories). */
  public readonly uploaders: ReadonlyMap<string, PipelineUploader>;
  public readonly deployer: DeployerAccess;
  public readonly policy: SignedPolicy;
  public readonly events: DecisionEvents;

  constructor(scope: Construct, id: string, props: VouchStackProps) {
    super(scope, id, { description: 'Vouch: verifies signed attestations before artifacts ship', ...props });
    const config = props.config;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const verifierTimeout = Duration.minutes(15);

    this.keys = new VouchKeys(this, 'Keys', {
      vsaKeyAlias: config.vsaKeyAlias,
      vsaSigningAlias: config.vsaSigningAlias,
    });
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
      pipelines: config.pipelines.map(({ name, alias, prefixes }) => ({ name, alias, prefixes })),
      vsaSigningAlias: config.vsaSigningAlias,
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

    this.uploaders = this.pipelineUploaders(config, dataKey);
    this.rotation = new KeyRotation(this, 'Rotation', {
      tables: this.tables,
      // Each pipeline's keys: its own alias, and its policy names its own upload role as the one signer.
      pipelines: config.pipelines.map((pipeline) => ({
        name: pipeline.name,
        alias: pipeline.alias,
        prefixes: pipeline.prefixes,
        signers: [...this.uploaders]
          .filter(([name]) => name === pipeline.name)
          .map(([, uploader]) => uploader.role),
        externalSignerArns: pipeline.signerPrincipalArns,
      })),
      summaryKeys: {
        alias: config.vsaSigningAlias,
        signers: [promoter],
        key: this.keys.vsaKey,
        period: Duration.days(config.vsaRotationPeriodDays),
      },
      keySpec: config.keySpec,
      period: Duration.days(config.rotationPeriodDays),
      grace: Duration.days(config.graceDays),
      retention: Duration.days(config.retentionDays),
      deletionWindow: Duration.days(config.deletionWindowDays),
      checkInterval: Duration.hours(config.rotationCheckHours),
      readers: [promoter],
      logRetention,
    });
    // The registry is a trust store: only the rotation function writes it.
    this.tables.restrictKeyRegistryWrites(this.rotation.role);
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
      keyRegistry: this.tables.keys,
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

    this.outputs(config);
    acknowledge(
      this,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The CDK's own handler that configures S3 bucket notifications at deploy time; it handles no artifact.",
    );
  }

  /**
   * An upload role per pipeline with GitHub repositories. The default pipeline's is `Uploader` (the one
   * uploader's ID before pipelines: its role, and the GitHub provider created under it, keep their
   * logical IDs); another's is `Uploader-<name>`. They share the account's one GitHub OIDC provider.
   */
  private pipelineUploaders(config: VouchConfig, dataKey: VouchKeys['dataKey']) {
    const uploaders = new Map<string, PipelineUploader>();
    const github = config.github;
    if (!github) return uploaders;
    const withGithub = config.pipelines
      .filter((pipeline) => pipeline.github && pipeline.uploadPrefixes.length > 0)
      .sort((a, b) => Number(b.name === DEFAULT_PIPELINE) - Number(a.name === DEFAULT_PIPELINE));
    const creates = github.createOidcProvider;
    // Created under the default pipeline's uploader where there is one (where it has always been), else
    // at the root: a provider that moved would be created again before the old one is deleted.
    let providerArn =
      creates && withGithub[0]?.name !== DEFAULT_PIPELINE
        ? githubOidcProvider(this, github)
        : github.oidcProviderArn;
    for (const pipeline of withGithub) {
      const uploader = new PipelineUploader(
        this,
        pipeline.name === DEFAULT_PIPELINE ? 'Uploader' : `Uploader-${pipeline.name}`,
        {
          pipeline: pipeline.name,
          stagingBucket: this.staging.bucket,
          dataKey,
          records: this.tables.records,
          signingKeyAlias: pipeline.alias,
          prefixes: pipeline.uploadPrefixes,
          repositories: pipeline.github ?? [],
          ...(providerArn
            ? { oidcProviderArn: providerArn, createOidcProvider: false }
            : { createOidcProvider: creates }),
        },
      );
      providerArn ??= uploader.oidcProviderArn;
      uploaders.set(pipeline.name, uploader);
    }
    return uploaders;
  }

  private outputs(config: VouchConfig) {
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
    for (const pipeline of config.pipelines) {
      const suffix = pipeline.name === DEFAULT_PIPELINE ? '' : outputSuffix(pipeline.name);
      out(`SigningKeyAlias${suffix}`, pipeline.alias, `vouch sign --key <this> (pipeline ${pipeline.name})`);
      const uploader = this.uploaders.get(pipeline.name);
      if (!uploader) continue;
      out(
        `UploaderRoleArn${suffix}`,
        uploader.role.roleArn,
        `role-to-assume for aws-actions/configure-aws-credentials (pipeline ${pipeline.name})`,
      );
      out(
        `UploaderPrefix${suffix}`,
        uploader.prefixes.join(','),
        `The staging prefixes the upload role of pipeline ${pipeline.name} may write`,
      );
    }
    out(
      'VsaSigningAlias',
      config.vsaSigningAlias,
      'The alias the rotating VSA keys sign through (pin key IDs, not it)',
    );
    out(
      'RotationFunctionName',
      this.rotation.function.function.functionName,
      'aws lambda invoke --function-name <this> --payload \'{"force":true}\' to rotate now',
    );
    out(
      'VsaKeyAlias',
      this.keys.vsaKeyAlias.aliasName,
      "The stack's first summary key (vouch fetch trusts the registry or pinned key IDs, not an alias)",
    );
    out('TrustBucketName', this.trust.bucket.bucketName, 'vouch trust show --store s3://<this>/trust-roots/');
    out('PolicyBucketName', this.policy.bucket.bucketName, 'VOUCH_POLICY_BUCKET: vouch policy push|show');
    out('PolicyKeyAlias', this.policy.alias.aliasName, 'VOUCH_POLICY_KEY_ID: vouch policy sign --key <this>');
    out('EventBusName', this.events.bus.eventBusName, 'Decision events (source "vouch")');
    if (this.events.topic)
      out('DecisionTopicArn', this.events.topic.topicArn, 'Decision events, fanned out to SNS');
    out('DeadLetterQueueUrl', this.staging.deadLetterQueue.queueUrl, 'Events that failed every retry');
    out('DeployerPolicyArn', this.deployer.policy.managedPolicyArn, 'Attach to roles that run vouch fetch');
    if (this.deployer.role) out('DeployerRoleArn', this.deployer.role.roleArn, 'Role for vouch fetch');
  }
}
