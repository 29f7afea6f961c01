import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OBJECT_WRITE_ACTIONS } from '../../lib/deployment.ts';
import {
  actionMatches,
  type FoundStatement,
  list,
  mentions,
  type Synthesized,
  statements,
  synth,
} from './synth.ts';

const FULL = {
  github: { owner: 'acme', repo: 'app', branches: ['main', 'release/*'] },
  deployerPrincipalArns: ['arn:aws:iam::123456789012:role/deploy'],
  alarmEmail: 'ops@example.com',
  objectLock: { mode: 'GOVERNANCE', days: 30 },
};

let full: Synthesized;
let all: FoundStatement[];
const logicalIds: Record<string, string> = {};

function idOf(type: string, contains: string): string {
  const ids = Object.entries(full.json.Resources)
    .filter(([id, r]) => r.Type === type && id.includes(contains))
    .map(([id]) => id);
  if (ids.length !== 1)
    throw new Error(`expected one ${type} with ${contains}, found ${ids.join(', ') || 'none'}`);
  return ids[0] as string;
}

const allows = () => all.filter((s) => s.statement.Effect === 'Allow');

beforeAll(() => {
  // Synthesizes with cdk-nag AwsSolutions and real esbuild bundling: a finding or a bundling failure throws.
  full = synth(FULL);
  all = statements(full.json);
  logicalIds.promoter = idOf('AWS::IAM::Role', 'PromoterRole');
  logicalIds.deployment = idOf('AWS::S3::Bucket', 'DeploymentBucket');
  logicalIds.staging = idOf('AWS::S3::Bucket', 'StagingBucket');
  logicalIds.vsaKey = idOf('AWS::KMS::Key', 'VsaKey');
}, 120_000);

afterAll(() => full?.cleanup());

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the full configuration (synth would have thrown)', () => {
    expect(full.json.Resources).toBeDefined();
  });

  it('finds nothing in the default configuration either', () => {
    const minimal = synth({}, { bundle: false });
    minimal.cleanup();
    expect(Object.keys(minimal.json.Resources).some((id) => id.startsWith('Uploader'))).toBe(false);
  });

  it('does fail a synth when a finding is not acknowledged (the check is live)', () => {
    const app = new App({ outdir: full.outdir });
    new s3.Bucket(new Stack(app, 'Careless'), 'Bucket');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/server access logs disabled/);
  });
});

describe('the deployment bucket', () => {
  it('denies every object write to every principal but the promoter role', () => {
    const policy = Object.values(full.json.Resources).find(
      (r) =>
        r.Type === 'AWS::S3::BucketPolicy' && mentions(r.Properties.Bucket, logicalIds.deployment as string),
    );
    const deny = (policy?.Properties.PolicyDocument.Statement as any[] | undefined)?.find(
      (s) => s.Sid === 'OnlyThePromoterWritesObjects',
    );
    expect(deny).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [logicalIds.promoter, 'Arn'] } } },
    });
    for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectAcl']) {
      expect(list(deny.Action)).toContain(action);
    }
    expect(list(deny.Action).sort()).toEqual([...OBJECT_WRITE_ACTIONS].sort());
  });

  it('is written by no identity policy but the promoter role', () => {
    const writers = allows().filter(
      (s) =>
        s.actions.some((a) => OBJECT_WRITE_ACTIONS.some((w) => actionMatches(a, w))) &&
        mentions(s.statement.Resource, logicalIds.deployment as string),
    );
    expect(writers.length).toBeGreaterThan(0);
    for (const writer of writers) expect(writer.roles).toEqual([logicalIds.promoter]);
    // Nor by any statement on "*" that could cover it.
    const anywhere = allows().filter(
      (s) =>
        list(s.statement.Resource as string[]).includes('*') &&
        s.actions.some((a) => actionMatches(a, 's3:PutObject')),
    );
    expect(anywhere).toEqual([]);
  });

  it('keeps Object Lock when configured', () => {
    full.template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } },
      },
    });
  });
});

describe('IAM', () => {
  it('grants no service-wide wildcard (kms:*, s3:*, *) in any Allow statement', () => {
    const wide = allows().filter((s) => s.actions.some((a) => a === '*' || /^[a-z0-9-]+:\*$/i.test(a)));
    expect(wide.map((s) => `${s.holder}: ${s.actions.join(',')}`)).toEqual([]);
    expect(allows().filter((s) => s.statement.NotAction !== undefined)).toEqual([]);
  });

  it('lets the verifier sign nothing but verification summaries', () => {
    const promoter = logicalIds.promoter as string;
    const identity = allows().filter((s) => s.roles.includes(promoter));
    expect(identity.flatMap((s) => s.actions).filter((a) => actionMatches(a, 'kms:Sign'))).toEqual([]);
    // The only kms:Sign it holds anywhere is on the VSA key, by that key's own policy.
    const signing = allows().filter(
      (s) => s.actions.some((a) => actionMatches(a, 'kms:Sign')) && mentions(s.statement.Principal, promoter),
    );
    expect(signing.map((s) => s.holder)).toEqual([logicalIds.vsaKey]);
    // No tag-scoped grant that could reach the rotating artifact signing keys.
    expect(
      identity.filter((s) => JSON.stringify(s.statement.Condition ?? {}).includes('vouch:purpose')),
    ).toEqual([]);
  });

  it('gives no identity policy kms:Sign on the VSA key: the account statement leaves it out', () => {
    const account = all.find((s) => s.holder === logicalIds.vsaKey && s.statement.Sid?.startsWith('Account'));
    expect(account?.actions).toContain('kms:GetPublicKey');
    expect(account?.actions.some((a) => actionMatches(a, 'kms:Sign'))).toBe(false);
  });

  it('limits the rotation role to keys carrying Vouch tags and the configured key spec', () => {
    const rotation = idOf('AWS::IAM::Role', 'RotationRole');
    const kms = allows().filter(
      (s) => s.roles.includes(rotation) && s.actions.some((a) => a.startsWith('kms:')),
    );
    const create = kms.find((s) => s.actions.includes('kms:CreateKey'));
    expect(create?.statement.Condition).toMatchObject({
      StringEquals: {
        'aws:RequestTag/vouch:purpose': 'signing',
        'aws:RequestTag/vouch:alias': 'alias/vouch-signing',
        'kms:KeySpec': 'ECC_NIST_P256',
        'kms:KeyUsage': 'SIGN_VERIFY',
      },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['vouch:purpose', 'vouch:alias', 'vouch:period'] },
    });
    for (const statement of kms) {
      // Every statement on "*" is conditioned on Vouch's tags; the rest name the alias.
      if (list(statement.statement.Resource as string[]).includes('*')) {
        expect(JSON.stringify(statement.statement.Condition)).toContain('vouch:purpose');
      } else {
        expect(JSON.stringify(statement.statement.Resource)).toContain(':alias/vouch-signing');
      }
    }
    expect(kms.flatMap((s) => s.actions)).not.toContain('kms:Sign');
  });

  it('trusts the uploader role only for the configured repository and branches, through GitHub OIDC', () => {
    const uploader = idOf('AWS::IAM::Role', 'UploaderRole');
    const trust = full.json.Resources[uploader]?.Properties.AssumeRolePolicyDocument.Statement[0];
    expect(trust).toMatchObject({
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: {
        StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
        StringLike: {
          'token.actions.githubusercontent.com:sub': [
            'repo:acme/app:ref:refs/heads/main',
            'repo:acme/app:ref:refs/heads/release/*',
          ],
        },
      },
    });
    expect(full.json.Resources[uploader]?.Properties.MaxSessionDuration).toBe(3600);
    const writes = allows().filter((s) => s.roles.includes(uploader) && s.actions.includes('s3:PutObject'));
    expect(writes).toHaveLength(1);
    expect(JSON.stringify(writes[0]?.statement.Resource)).toContain('/acme/app/*');
    const sign = allows().find((s) => s.roles.includes(uploader) && s.actions.includes('kms:Sign'));
    expect(sign?.statement.Condition).toEqual({
      StringEquals: { 'kms:RequestAlias': 'alias/vouch-signing', 'aws:ResourceTag/vouch:purpose': 'signing' },
    });
    // It reads nothing from the deployment bucket.
    expect(
      allows().filter(
        (s) => s.roles.includes(uploader) && mentions(s.statement.Resource, logicalIds.deployment as string),
      ),
    ).toEqual([]);
  });
});

describe('buckets, queues and tables', () => {
  it('makes every bucket deny requests without TLS', () => {
    const buckets = Object.entries(full.json.Resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    // Staging, deployment, access logs, and the trust refresher's (test/infra/trust.test.ts).
    expect(buckets).toHaveLength(4);
    for (const [id] of buckets) {
      const denied = all.some(
        (s) =>
          s.holderType === 'AWS::S3::BucketPolicy' &&
          s.statement.Effect === 'Deny' &&
          mentions(s.statement.Resource, id) &&
          (s.statement.Condition as any)?.Bool?.['aws:SecureTransport'] === 'false',
      );
      expect(denied, id).toBe(true);
    }
  });

  it('versions and KMS-encrypts the staging and deployment buckets, blocks public access, logs access', () => {
    for (const id of [logicalIds.staging, logicalIds.deployment] as string[]) {
      const props = full.json.Resources[id]?.Properties;
      expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0]).toMatchObject({
        BucketKeyEnabled: true,
        ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' },
      });
      expect(props.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(props.LoggingConfiguration.DestinationBucketName).toBeDefined();
      expect(JSON.stringify(props.LifecycleConfiguration)).toContain('NoncurrentVersionExpiration');
    }
  });

  it('sends staging events to a queue with a dead-letter queue, consumed with partial batch failures', () => {
    const dlq = idOf('AWS::SQS::Queue', 'DeadLetterQueue');
    full.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
      VisibilityTimeout: 6 * 15 * 60,
    });
    full.template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [Match.objectLike({ Events: ['s3:ObjectCreated:*'] })],
      },
    });
    full.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('gives every table point-in-time recovery, deletion protection and the data key', () => {
    const tables = Object.values(full.json.Resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(3);
    for (const table of tables) {
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      });
    }
  });

  it('retains stateful resources when the stack is deleted', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::KMS::Key']) {
      for (const [id, resource] of Object.entries(full.json.Resources).filter(([, r]) => r.Type === type)) {
        expect((resource as any).DeletionPolicy, id).toBe('Retain');
      }
    }
  });
});

describe('functions', () => {
  it('run Node 24 on arm64 with reserved concurrency and sized timeouts', () => {
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Vouch verifier'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1769,
      Timeout: 900,
      ReservedConcurrentExecutions: 10,
      Environment: {
        Variables: Match.objectLike({
          VOUCH_POLICY_PATH: '/var/task/policy.yaml',
          VOUCH_VSA_KEY_ID: { 'Fn::GetAtt': [logicalIds.vsaKey, 'Arn'] },
        }),
      },
    });
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Vouch key rotation'),
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 1,
    });
  });

  it('bundles the policy and the pinned trusted root with the verifier', () => {
    const assets = readdirSync(full.outdir).filter((d) => d.startsWith('asset.'));
    const verifier = assets.find((d) => existsSync(join(full.outdir, d, 'policy.yaml')));
    expect(verifier).toBeDefined();
    const dir = join(full.outdir, verifier as string);
    expect(readFileSync(join(dir, 'policy.yaml'), 'utf8')).toBe(
      readFileSync('policies/default.yaml', 'utf8'),
    );
    expect(existsSync(join(dir, 'trust', 'public-good.trusted_root.json'))).toBe(true);
    expect(existsSync(join(dir, 'index.mjs'))).toBe(true);
  });

  it('re-checks on revocation: the key registry stream, filtered to revocations, failures to the DLQ', () => {
    const keysTable = idOf('AWS::DynamoDB::Table', 'KeysTable');
    full.template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    full.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [keysTable, 'StreamArn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ dynamodb: { NewImage: { revokedAt: { S: [{ exists: true }] } } } }) },
        ],
      },
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf('AWS::SQS::Queue', 'DeadLetterQueue'), 'Arn'] } },
      },
    });
  });

  it('schedules rotation checks and the pending sweep, and bootstraps the first key after deployment', () => {
    full.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 day)' });
    full.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      Target: Match.objectLike({ Input: JSON.stringify({ action: 'sweep' }) }),
    });
    // The first key, and the first trust-root refresh (test/infra/trust.test.ts).
    full.template.resourceCountIs('Custom::Trigger', 2);
  });
});

describe('monitoring and outputs', () => {
  it('alarms on dead letters, verifier errors and failed rotations, to an encrypted topic', () => {
    const alarms = Object.values(full.json.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual(
      [
        'ApproximateAgeOfOldestMessage',
        'ApproximateNumberOfMessagesVisible',
        'Errors',
        'Errors',
        'ProcessingErrors',
        // The trust refresher's, per instance (test/infra/trust.test.ts).
        'TrustRootAgeHours',
        'TrustRootRefreshFailed',
      ].sort(),
    );
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
    full.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    full.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('outputs what pipelines, deployers and the CLI need', () => {
    expect(Object.keys(full.json.Outputs ?? {}).sort()).toEqual(
      [
        'DeadLetterQueueUrl',
        'DeployerPolicyArn',
        'DeployerRoleArn',
        'DeploymentBucketName',
        'IndexTableName',
        'KeysTableName',
        'RecordsTableName',
        'SigningKeyAlias',
        'StagingBucketName',
        'TrustBucketName',
        'UploaderPrefix',
        'UploaderRoleArn',
        'VsaKeyAlias',
      ].sort(),
    );
  });
});
