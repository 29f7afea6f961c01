import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicyAsync, policyDigest } from '../../lambdas/core/policy.ts';
import { PERIOD_TAG_PATTERNS, POLICY_TAG_PATTERN } from '../../lambdas/rotate/rotate.ts';
import { OBJECT_WRITE_ACTIONS } from '../../lib/deployment.ts';
import { PROJECT_ROOT } from '../../lib/function.ts';
import { PROTECTED_KEY_ACTIONS, SUMMARY_ALIAS_ACTIONS } from '../../lib/keys.ts';
import { flatten } from './iam.ts';
import {
  actionMatches,
  type FoundStatement,
  list,
  mentions,
  type Synthesized,
  statements,
  synth,
} from './synth.ts';
import { trustRefresherTests } from './trust.ts';

/** Every option on. */
const FULL = {
  github: { owner: 'acme', repo: 'app', branches: ['main', 'release/*'] },
  deployerPrincipalArns: ['arn:aws:iam::123456789012:role/deploy'],
  alarmEmail: 'ops@example.com',
  objectLock: { mode: 'GOVERNANCE', days: 30 },
  reserveConcurrency: true,
  signerPrincipalArns: ['arn:aws:iam::123456789012:role/release-pipeline'],
  codeSigning: true,
  policySignerPrincipalArns: ['arn:aws:iam::123456789012:role/policy-admin'],
  decisionTopic: true,
  decisionWebhook: {
    url: 'https://hooks.example.com/vouch',
    apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vouch-webhook-AbCdEf',
  },
};

let full: Synthesized;
/** The configuration an admin gets with no `vouch` context at all. */
let defaults: Synthesized;
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
  defaults = synth({}, { bundle: false });
  all = statements(full.json);
  logicalIds.promoter = idOf('AWS::IAM::Role', 'PromoterRole');
  logicalIds.deployment = idOf('AWS::S3::Bucket', 'DeploymentBucket');
  logicalIds.staging = idOf('AWS::S3::Bucket', 'StagingBucket');
  logicalIds.vsaKey = idOf('AWS::KMS::Key', 'VsaKey');
}, 120_000);

afterAll(() => {
  full?.cleanup();
  defaults?.cleanup();
});

const resourcesOf = (template: Synthesized, type: string) =>
  Object.entries(template.json.Resources).filter(([, r]) => r.Type === type);

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the full configuration (synth would have thrown)', () => {
    expect(full.json.Resources).toBeDefined();
  });

  it('finds nothing in the default configuration either (synth would have thrown)', () => {
    expect(Object.keys(defaults.json.Resources).some((id) => id.startsWith('Uploader'))).toBe(false);
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
    // Its identity policy names the VSA key for kms:Sign, and the rotating summary keys through their
    // alias (tagged as summary keys), nothing else.
    const identitySign = identity.filter((s) => s.actions.some((a) => actionMatches(a, 'kms:Sign')));
    expect(identitySign.map((s) => s.statement.Resource)).toEqual([
      { 'Fn::GetAtt': [logicalIds.vsaKey, 'Arn'] },
      '*',
    ]);
    expect(identitySign[1]?.statement.Condition).toEqual({
      StringEquals: {
        'kms:RequestAlias': 'alias/vouch-vsa/rotating',
        'aws:ResourceTag/vouch:purpose': 'vsa',
        'aws:ResourceTag/vouch:alias': 'alias/vouch-vsa/rotating',
      },
    });
    // The only key policy that lets it sign is the VSA key's, by its principal ARN.
    const signing = allows().filter(
      (s) =>
        s.holderType === 'AWS::KMS::Key' &&
        s.actions.some((a) => actionMatches(a, 'kms:Sign')) &&
        mentions(s.statement.Condition, promoter),
    );
    expect(signing.map((s) => s.holder)).toEqual([logicalIds.vsaKey]);
    // On the rotating artifact signing keys it may read public keys, nothing more.
    const onSigningKeys = identity.filter((s) =>
      JSON.stringify(s.statement.Condition ?? {}).includes('"aws:ResourceTag/vouch:purpose":"signing"'),
    );
    expect(onSigningKeys.flatMap((s) => s.actions).sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey']);
  });

  it("lets no identity policy but the promoter's sign with the VSA key: only its principal ARN may", () => {
    const onKey = all.filter((s) => s.holder === logicalIds.vsaKey);
    const account = onKey.find((s) => s.statement.Sid?.startsWith('Account'));
    expect(account?.actions).toContain('kms:GetPublicKey');
    expect(account?.actions.some((a) => actionMatches(a, 'kms:Sign'))).toBe(false);
    const sign = onKey.filter(
      (s) => s.statement.Effect === 'Allow' && s.actions.some((a) => actionMatches(a, 'kms:Sign')),
    );
    expect(sign).toHaveLength(1);
    expect(sign[0]?.statement.Condition).toEqual({
      ArnEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [logicalIds.promoter, 'Arn'] } },
    });
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
      'ForAllValues:StringEquals': {
        'aws:TagKeys': ['vouch:purpose', 'vouch:alias', 'vouch:period', 'vouch:policy'],
      },
    });
    for (const statement of kms) {
      // Every statement on "*" is conditioned on Vouch's tags, but ListKeys (it has no resource-level
      // permission and reveals only key IDs: the tags it then reads are conditioned); the rest name the alias.
      if (statement.actions.length === 1 && statement.actions[0] === 'kms:ListKeys') continue;
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
      StringEquals: {
        'kms:RequestAlias': 'alias/vouch-signing',
        'aws:ResourceTag/vouch:purpose': 'signing',
        'aws:ResourceTag/vouch:alias': 'alias/vouch-signing',
      },
    });
    // It reads nothing from the deployment bucket.
    expect(
      allows().filter(
        (s) => s.roles.includes(uploader) && mentions(s.statement.Resource, logicalIds.deployment as string),
      ),
    ).toEqual([]);
  });
});

describe('issue 11 #14: what the rotation role and the account may do to keys', () => {
  const rotationKms = () => {
    const rotation = idOf('AWS::IAM::Role', 'RotationRole');
    return allows().filter((s) => s.roles.includes(rotation) && s.actions.some((a) => a.startsWith('kms:')));
  };

  it.each([
    ['Signing', 'signing', 'alias/vouch-signing'],
    ['Summary', 'vsa', 'alias/vouch-vsa/rotating'],
  ])(
    'tags new %s keys only with Vouch’s tag keys and the values the rotation code writes',
    (line, purpose, alias) => {
      for (const sid of [`CreateTagged${line}Keys`, `TagNew${line}Keys`]) {
        const statement = rotationKms().find((s) => s.statement.Sid === sid)?.statement;
        expect(statement?.Condition, sid).toMatchObject({
          StringEquals: {
            'aws:RequestTag/vouch:purpose': purpose,
            'aws:RequestTag/vouch:alias': alias,
          },
          StringLike: {
            'aws:RequestTag/vouch:period': [...PERIOD_TAG_PATTERNS],
            'aws:RequestTag/vouch:policy': POLICY_TAG_PATTERN,
          },
          'ForAllValues:StringEquals': {
            'aws:TagKeys': ['vouch:purpose', 'vouch:alias', 'vouch:period', 'vouch:policy'],
          },
        });
      }
    },
  );

  it('disables, deletes and moves aliases only for keys tagged as this alias’s signing keys, of a signing key’s spec', () => {
    const manage = rotationKms().filter((s) =>
      s.actions.some((a) =>
        ['kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:TagResource', 'kms:UntagResource'].includes(a),
      ),
    );
    const owned = manage.filter((s) => !s.statement.Sid?.startsWith('TagNew'));
    expect(owned.map((s) => s.statement.Sid)).toEqual(['ManageOwnSigningKeys', 'ManageOwnSummaryKeys']);
    for (const [statement, purpose, alias] of [
      [owned[0], 'signing', 'alias/vouch-signing'],
      [owned[1], 'vsa', 'alias/vouch-vsa/rotating'],
    ] as const) {
      expect(statement?.statement.Condition).toEqual({
        StringEquals: {
          'aws:ResourceTag/vouch:purpose': purpose,
          'aws:ResourceTag/vouch:alias': alias,
          'kms:KeySpec': 'ECC_NIST_P256',
          'kms:KeyUsage': 'SIGN_VERIFY',
        },
      });
    }
    expect(rotationKms().flatMap((s) => s.actions)).not.toContain('kms:UntagResource');
  });

  it('lets the data and VSA keys refuse the rotation role any tag, disable, delete or policy change', () => {
    const rotation = idOf('AWS::IAM::Role', 'RotationRole');
    for (const key of [logicalIds.vsaKey, idOf('AWS::KMS::Key', 'DataKey')] as string[]) {
      const deny = all.find((s) => s.holder === key && s.statement.Effect === 'Deny');
      expect(deny?.statement.Condition, key).toEqual({
        ArnEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [rotation, 'Arn'] } },
      });
      // The VSA key is the summary line's first key: the rotation may point that line's alias at it.
      const expected =
        key === logicalIds.vsaKey
          ? PROTECTED_KEY_ACTIONS.filter((a) => !SUMMARY_ALIAS_ACTIONS.includes(a))
          : PROTECTED_KEY_ACTIONS;
      expect(deny?.actions.sort()).toEqual([...expected].sort());
    }
  });

  it('leaves kms:PutKeyPolicy out of the VSA key’s account statement: only a CloudFormation deployment changes it', () => {
    const onKey = all.filter((s) => s.holder === logicalIds.vsaKey && s.statement.Effect === 'Allow');
    const put = onKey.filter((s) => s.actions.includes('kms:PutKeyPolicy'));
    expect(put).toHaveLength(1);
    expect(put[0]?.statement.Condition).toEqual({
      'ForAnyValue:StringEquals': { 'aws:CalledVia': ['cloudformation.amazonaws.com'] },
    });
    expect(onKey.find((s) => s.statement.Sid?.startsWith('Account'))?.actions).not.toContain(
      'kms:PutKeyPolicy',
    );
  });
});

describe('issue 11 #14: Lambda code signing (codeSigning)', () => {
  const vouchFunctions = (template: Synthesized) =>
    resourcesOf(template, 'AWS::Lambda::Function').filter(([, r]) =>
      /^Vouch (verifier|key rotation)/.test(String(r.Properties.Description)),
    );

  it("lets the verifier's three functions and the rotation function run only code the Vouch profile signed", () => {
    const [profileId] = resourcesOf(full, 'AWS::Signer::SigningProfile')[0] ?? [];
    const [configId, config] = resourcesOf(full, 'AWS::Lambda::CodeSigningConfig')[0] ?? [];
    expect(config?.Properties).toMatchObject({
      AllowedPublishers: { SigningProfileVersionArns: [{ 'Fn::GetAtt': [profileId, 'ProfileVersionArn'] }] },
      CodeSigningPolicies: { UntrustedArtifactOnDeployment: 'Enforce' },
    });
    const functions = vouchFunctions(full);
    expect(functions).toHaveLength(4);
    for (const [id, fn] of functions) {
      expect(fn.Properties.CodeSigningConfigArn, id).toEqual({
        'Fn::GetAtt': [configId, 'CodeSigningConfigArn'],
      });
    }
  });

  it('signs each bundle the CDK uploaded during the deployment and creates the function from the signed copy', () => {
    const signed = resourcesOf(full, 'Custom::VouchSignedCode');
    expect(signed).toHaveLength(4);
    const [profileId] = resourcesOf(full, 'AWS::Signer::SigningProfile')[0] ?? [];
    for (const [id, fn] of vouchFunctions(full)) {
      const [signedId, resource] =
        signed.find(([signedId]) => mentions(fn.Properties.Code.S3Key, signedId)) ?? [];
      expect(resource, id).toBeDefined();
      expect(fn.Properties.Code).toEqual({
        S3Bucket: { 'Fn::GetAtt': [signedId, 'Bucket'] },
        S3Key: { 'Fn::GetAtt': [signedId, 'Key'] },
      });
      expect(resource?.Properties).toMatchObject({
        SourceBucket: 'cdk-hnb659fds-assets-123456789012-eu-west-1',
        SourceKey: expect.stringMatching(/^[0-9a-f]{64}\.zip$/),
        DestinationPrefix: 'signed/',
        ProfileName: { 'Fn::GetAtt': [profileId, 'ProfileName'] },
      });
      // The signing role reads exactly that bundle, which AWS Signer reads as it.
      const bundle = `arn:aws:s3:::${resource?.Properties.SourceBucket}/${resource?.Properties.SourceKey}`;
      const signingRole = idOf('AWS::IAM::Role', 'CodeSigningSigningRole');
      const reads = allows().filter(
        (s) => s.roles.includes(signingRole) && s.actions.includes('s3:GetObjectVersion'),
      );
      expect(reads.map((s) => s.statement.Resource)).toContainEqual(bundle);
    }
  });

  it('is off by default: the functions carry no code-signing configuration', () => {
    expect(resourcesOf(defaults, 'AWS::Lambda::CodeSigningConfig')).toEqual([]);
    for (const [id, fn] of vouchFunctions(defaults))
      expect(fn.Properties.CodeSigningConfigArn, id).toBeUndefined();
  });
});

describe('buckets, queues and tables', () => {
  it('makes every bucket deny requests without TLS', () => {
    const buckets = Object.entries(full.json.Resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    // Staging, deployment, access logs, the signed code of the code-signing option, the trust
    // refresher's (test/infra/trust.ts) and the signed policies' (test/infra/policy.test.ts).
    expect(buckets).toHaveLength(6);
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
      // A hundred messages (about fifty artifacts) share one VSA signature; over 10 needs a batching window.
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
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
});

describe('first deploy on a fresh account', () => {
  describe('reserved concurrency (#1)', () => {
    const functionNamed = (template: Synthesized, description: RegExp) =>
      resourcesOf(template, 'AWS::Lambda::Function').find(([, r]) =>
        description.test(String(r.Properties.Description)),
      )?.[1];
    const sqsMapping = (template: Synthesized) =>
      resourcesOf(template, 'AWS::Lambda::EventSourceMapping').find(([, r]) =>
        mentions(r.Properties.EventSourceArn, idOf('AWS::SQS::Queue', 'StagingQueue')),
      )?.[1];

    it('reserves nothing by default: SQS batches are capped by the event source maximum concurrency', () => {
      for (const [id, fn] of resourcesOf(defaults, 'AWS::Lambda::Function')) {
        expect(fn.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
      }
      expect(sqsMapping(defaults)?.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 10 });
    });

    it('when reservation is on, reserves the SQS maximum for the verifier, and one each for the re-check and the sweep', () => {
      expect(sqsMapping(full)?.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 10 });
      expect(functionNamed(full, /^Vouch verifier:/)?.Properties.ReservedConcurrentExecutions).toBe(10);
      expect(
        functionNamed(full, /^Vouch verifier, revocation/)?.Properties.ReservedConcurrentExecutions,
      ).toBe(1);
      expect(functionNamed(full, /^Vouch verifier, sweep/)?.Properties.ReservedConcurrentExecutions).toBe(1);
      // The deployment trigger and a scheduled run may overlap: the registry lease serialises them.
      expect(
        functionNamed(full, /^Vouch key rotation/)?.Properties.ReservedConcurrentExecutions,
      ).toBeUndefined();
    });

    it('reads the key registry stream one batch per shard, inside that headroom', () => {
      const stream = resourcesOf(full, 'AWS::Lambda::EventSourceMapping').find(([, r]) =>
        mentions(r.Properties.EventSourceArn, idOf('AWS::DynamoDB::Table', 'KeysTable')),
      )?.[1];
      expect(stream?.Properties.ParallelizationFactor).toBe(1);
    });
  });

  describe('retries after a failed first deploy or a destroy (#2)', () => {
    const RETAINED_TYPES = [
      'AWS::S3::Bucket',
      'AWS::S3::BucketPolicy',
      'AWS::KMS::Key',
      'AWS::Logs::LogGroup',
    ];

    it('retains stateful resources on update or delete, but not when their own create rolls back', () => {
      for (const template of [full, defaults]) {
        for (const type of RETAINED_TYPES) {
          const found = resourcesOf(template, type);
          expect(found.length, type).toBeGreaterThan(0);
          for (const [id, resource] of found) {
            expect((resource as any).DeletionPolicy, id).toBe('RetainExceptOnCreate');
            expect((resource as any).UpdateReplacePolicy, id).toBe('Retain');
          }
        }
      }
    });

    it('keeps protected tables on a rolled-back create (CloudFormation cannot delete them), unprotected ones not', () => {
      for (const [id, table] of resourcesOf(full, 'AWS::DynamoDB::Table')) {
        expect(table.Properties.DeletionProtectionEnabled, id).toBe(true);
        expect((table as any).DeletionPolicy, id).toBe('Retain');
      }
      const unprotected = synth({ deletionProtection: false }, { bundle: false });
      try {
        for (const [id, table] of resourcesOf(unprotected, 'AWS::DynamoDB::Table')) {
          expect(table.Properties.DeletionProtectionEnabled, id).toBe(false);
          expect((table as any).DeletionPolicy, id).toBe('RetainExceptOnCreate');
        }
      } finally {
        unprotected.cleanup();
      }
    });

    it('gives nothing that outlives the stack a fixed name, so a redeploy never meets AlreadyExists', () => {
      const NAME_PROPERTIES = [
        'BucketName',
        'TableName',
        'AliasName',
        'LogGroupName',
        'KeyAlias',
        'QueueName',
      ];
      for (const [id, resource] of Object.entries(full.json.Resources)) {
        const retained = ['Retain', 'RetainExceptOnCreate'].includes((resource as any).DeletionPolicy);
        if (!retained) continue;
        for (const name of NAME_PROPERTIES)
          expect(resource.Properties?.[name], `${id}.${name}`).toBeUndefined();
      }
      // The VSA alias is a fixed name: it goes with the stack; the key it points to stays.
      const [, alias] = resourcesOf(full, 'AWS::KMS::Alias')[0] ?? [];
      expect(alias?.Properties.AliasName).toBe('alias/vouch-vsa');
      expect((alias as any).DeletionPolicy).toBe('Delete');
    });
  });

  describe('the first rotation (#3)', () => {
    const rotationFunction = () =>
      resourcesOf(full, 'AWS::Lambda::Function').find(([, r]) =>
        String(r.Properties.Description).startsWith('Vouch key rotation'),
      ) ?? ['', { Type: '', Properties: {} }];

    it('gives the trigger the whole run: a 10-minute function, waited for synchronously for 11', () => {
      const [fnId, fn] = rotationFunction();
      expect(fn.Properties.Timeout).toBe(600);
      const [, trigger] = resourcesOf(full, 'Custom::Trigger')[0] ?? [];
      expect(trigger?.Properties).toMatchObject({
        InvocationType: 'RequestResponse',
        Timeout: String(11 * 60_000),
      });
      const [versionId] =
        resourcesOf(full, 'AWS::Lambda::Version').find(([, v]) =>
          mentions(v.Properties.FunctionName, fnId),
        ) ?? [];
      expect(mentions(trigger?.Properties.HandlerArn, versionId as string)).toBe(true);
    });

    it('tells scheduled runs from the trigger’s, which defer instead of failing', () => {
      const [fnId] = rotationFunction();
      const [, schedule] =
        resourcesOf(full, 'AWS::Scheduler::Schedule').find(([, r]) =>
          mentions(r.Properties.Target.Arn, fnId),
        ) ?? [];
      expect(JSON.parse(schedule?.Properties.Target.Input)).toEqual({ source: 'schedule' });
    });

    it('counts deferred runs from the rotation log and alarms on them', () => {
      const [, fn] = rotationFunction();
      const [, filter] = resourcesOf(full, 'AWS::Logs::MetricFilter')[0] ?? [];
      expect(filter?.Properties).toMatchObject({
        LogGroupName: fn.Properties.LoggingConfig.LogGroup,
        FilterPattern: '{ $.message = "rotation deferred" }',
        MetricTransformations: [
          { MetricNamespace: 'Vouch', MetricName: 'RotationDeferred', MetricValue: '1' },
        ],
      });
      const alarm = resourcesOf(full, 'AWS::CloudWatch::Alarm').find(
        ([, a]) => a.Properties.MetricName === 'RotationDeferred',
      );
      expect(alarm?.[1].Properties).toMatchObject({ Namespace: 'Vouch', Threshold: 1 });
    });
  });

  describe('principals that may not exist yet (#4)', () => {
    const ROLE_TYPES = ['AWS::IAM::Role'];
    const stackRoles = () =>
      Object.entries(full.json.Resources)
        .filter(([, r]) => ROLE_TYPES.includes(r.Type))
        .map(([id]) => id);

    it('names no role of this stack as a key policy principal: KMS may not see a fresh role yet', () => {
      for (const found of all.filter((s) => s.holderType === 'AWS::KMS::Key')) {
        for (const role of stackRoles()) {
          expect(mentions(found.statement.Principal, role), `${found.holder} ${found.statement.Sid}`).toBe(
            false,
          );
        }
      }
    });

    it('trusts deployer principals by aws:PrincipalArn under their account, so a missing one cannot fail the deploy', () => {
      const deployer = idOf('AWS::IAM::Role', 'DeployerRole');
      const trust = full.json.Resources[deployer]?.Properties.AssumeRolePolicyDocument.Statement;
      expect(trust).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:root' },
          Condition: { ArnEquals: { 'aws:PrincipalArn': ['arn:aws:iam::123456789012:role/deploy'] } },
        },
      ]);
    });

    it("reuses the account's GitHub OIDC provider when one is named, and creates one only otherwise", () => {
      expect(resourcesOf(full, 'AWS::IAM::OIDCProvider')).toHaveLength(1);
      const existing = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
      const reusing = synth(
        { github: { owner: 'acme', repo: 'app', oidcProviderArn: existing } },
        { bundle: false },
      );
      try {
        expect(resourcesOf(reusing, 'AWS::IAM::OIDCProvider')).toEqual([]);
        const [, uploader] =
          resourcesOf(reusing, 'AWS::IAM::Role').find(([id]) => id.startsWith('UploaderRole')) ?? [];
        expect(uploader?.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
          Federated: existing,
        });
      } finally {
        reusing.cleanup();
      }
    });
  });

  describe('alarms reach the topic (#6)', () => {
    it("lets this account's CloudWatch alarms publish to the encrypted topic, and nothing else", () => {
      const [topicId] =
        resourcesOf(full, 'AWS::SNS::Topic').find(([id]) => id.startsWith('Monitoring')) ?? [];
      // The decisions topic (test/infra/policy.test.ts) is published to through a role, not its policy.
      const topicStatements = all.filter((s) => s.holderType === 'AWS::SNS::TopicPolicy');
      const publish = topicStatements.filter((s) => s.statement.Effect === 'Allow');
      expect(publish).toHaveLength(1);
      expect(publish[0]?.statement).toMatchObject({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: {
          StringEquals: { 'aws:SourceAccount': '123456789012' },
          ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' },
        },
      });
      for (const [id, alarm] of resourcesOf(full, 'AWS::CloudWatch::Alarm')) {
        expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
      }
      // The topic is encrypted with the data key: CloudWatch needs it too, for this account only.
      const keyRef = full.json.Resources[topicId as string]?.Properties.KmsMasterKeyId;
      const keyId = (keyRef as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      const cloudwatchOnKey = all.find(
        (s) =>
          s.holder === keyId && JSON.stringify(s.statement.Principal).includes('cloudwatch.amazonaws.com'),
      );
      expect(cloudwatchOnKey?.actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(cloudwatchOnKey?.statement.Condition).toEqual({
        StringEquals: { 'aws:SourceAccount': '123456789012' },
      });
    });
  });

  describe('least privilege left over (#10)', () => {
    it('lets S3 send to the staging queue only for the staging bucket of this account', () => {
      const send = all.filter(
        (s) =>
          s.holderType === 'AWS::SQS::QueuePolicy' && JSON.stringify(s.statement.Principal).includes('s3.'),
      );
      expect(send).toHaveLength(1);
      expect(send[0]?.actions).toContain('sqs:SendMessage');
      expect(send[0]?.statement.Condition).toEqual({
        ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalIds.staging, 'Arn'] } },
        StringEquals: { 'aws:SourceAccount': '123456789012' },
      });
    });

    it('gives every service principal in a resource policy a source account or source ARN', () => {
      for (const found of allows()) {
        const principal = JSON.stringify(found.statement.Principal ?? {});
        if (!principal.includes('"Service"') || found.holderType === 'AWS::IAM::Role') continue;
        const condition = JSON.stringify(found.statement.Condition ?? {});
        expect(condition, `${found.holder} ${principal}`).toMatch(/aws:Source(Account|Arn)/);
      }
    });
  });

  describe('signing keys get an explicit key policy (#8)', () => {
    const rotationEnv = (template: Synthesized) =>
      resourcesOf(template, 'AWS::Lambda::Function').find(([, r]) =>
        String(r.Properties.Description).startsWith('Vouch key rotation'),
      )?.[1]?.Properties.Environment.Variables;

    it('gives the rotation function the roles the policy names: itself, the uploader, the verifier', () => {
      const rotationRole = idOf('AWS::IAM::Role', 'RotationRole');
      const env = rotationEnv(full);
      expect(env.VOUCH_SIGNING_KEY_MANAGER).toEqual({ 'Fn::GetAtt': [rotationRole, 'Arn'] });
      expect(JSON.parse(flatten(env.VOUCH_PIPELINES))[0].signers).toEqual([
        `\${${idOf('AWS::IAM::Role', 'UploaderRole')}.Arn}`,
        'arn:aws:iam::123456789012:role/release-pipeline',
      ]);
      expect(env.VOUCH_SIGNING_KEY_READERS).toEqual({ 'Fn::GetAtt': [logicalIds.promoter, 'Arn'] });
      // Without an uploader nobody signs until signerPrincipalArns names someone.
      expect(JSON.parse(flatten(rotationEnv(defaults).VOUCH_PIPELINES))[0].signers).toEqual([]);
    });

    it('names the rotation role so that a later deployment’s role still manages the keys', () => {
      const role = full.json.Resources[idOf('AWS::IAM::Role', 'RotationRole')];
      expect(role?.Properties.RoleName).toBe('Vouch-key-rotation-eu-west-1');
    });

    it('adds the configured outside signers to the policy', () => {
      const outside = 'arn:aws:iam::123456789012:role/release-pipeline';
      const withSigners = synth({ signerPrincipalArns: [outside] }, { bundle: false });
      try {
        expect(JSON.parse(flatten(rotationEnv(withSigners).VOUCH_PIPELINES))[0].signers).toEqual([outside]);
      } finally {
        withSigners.cleanup();
      }
    });
  });

  describe('teardown (#9)', () => {
    it('keeps every bucket policy with its retained bucket, the promoter-only deny included', () => {
      const buckets = resourcesOf(full, 'AWS::S3::Bucket').map(([id]) => id);
      const policies = resourcesOf(full, 'AWS::S3::BucketPolicy');
      expect(policies.map(([, p]) => buckets.find((b) => mentions(p.Properties.Bucket, b))).sort()).toEqual(
        [...buckets].sort(),
      );
      for (const [id, policy] of policies)
        expect((policy as any).DeletionPolicy, id).toBe('RetainExceptOnCreate');
      const deployment = policies.find(([, p]) =>
        mentions(p.Properties.Bucket, logicalIds.deployment as string),
      );
      expect(JSON.stringify(deployment?.[1].Properties.PolicyDocument)).toContain(
        'OnlyThePromoterWritesObjects',
      );
    });
  });
});

describe('functions', () => {
  it('run Node 24 on arm64 with sized timeouts', () => {
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Vouch verifier'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1769,
      Timeout: 900,
      Environment: {
        Variables: Match.objectLike({
          VOUCH_POLICY_PATH: '/var/task/policy.yaml',
          VOUCH_VSA_KEY_ID: { 'Fn::GetAtt': [logicalIds.vsaKey, 'Arn'] },
          VOUCH_VSA_VALIDITY_SECONDS: String(30 * 24 * 3600),
          // Validated at synth: exactly these bytes are only compiled at a cold start.
          VOUCH_POLICY_SCHEMA_VALIDATED: policyDigest(readFileSync('policies/default.yaml')),
          // ...and read as synth parsed them: no YAML parser at a cold start.
          VOUCH_POLICY_DOCUMENT_PATH: '/var/task/policy.json',
        }),
      },
    });
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Vouch key rotation'),
      Architectures: ['arm64'],
    });
  });

  it('refuses to synthesize with a policy that does not load, naming what is wrong', () => {
    const dir = mkdtempSync(join(PROJECT_ROOT, '.vouch-policy-test-'));
    try {
      writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nrules: []\n');
      expect(() => synth({ policyFile: join(dir, 'policy.yaml') }, { bundle: false })).toThrow(
        /policy\.yaml: \/rules must NOT have fewer than 1 items/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bundles the policy, as synth parsed it too, and the pinned trusted root with the verifier', async () => {
    const assets = readdirSync(full.outdir).filter((d) => d.startsWith('asset.'));
    const verifier = assets.find((d) => existsSync(join(full.outdir, d, 'policy.yaml')));
    expect(verifier).toBeDefined();
    const dir = join(full.outdir, verifier as string);
    expect(readFileSync(join(dir, 'policy.yaml'), 'utf8')).toBe(
      readFileSync('policies/default.yaml', 'utf8'),
    );
    expect(JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8'))).toEqual(
      (await parsePolicyAsync(readFileSync('policies/default.yaml'), 'default.yaml')).spec,
    );
    expect(existsSync(join(dir, 'trust', 'public-good.trusted_root.json'))).toBe(true);
    expect(existsSync(join(dir, 'index.mjs'))).toBe(true);
  });

  /** Each Vouch function's entry, by the prefix of its logical ID. */
  const ENTRIES: Record<string, string> = {
    Verifier: 'lambdas/verify/handler.ts',
    VerifierRecheck: 'lambdas/verify/stream.ts',
    VerifierSweep: 'lambdas/verify/schedule.ts',
    Rotation: 'lambdas/rotate/handler.ts',
    TrustRefresher: 'lambdas/trust/handler.ts',
    CodeSigning: 'lambdas/sign-code/handler.ts',
  };
  /** Each Vouch function of the bundled synthesis and the folder of the asset it runs. */
  const functionAssets = () => {
    const resources = full.template.toJSON().Resources;
    const assets = new Map<string, string>();
    for (const [id, fn] of Object.entries(full.template.findResources('AWS::Lambda::Function'))) {
      const name = Object.keys(ENTRIES).find((prefix) =>
        new RegExp(`^${prefix}Function[0-9A-F]{8}$`).test(id),
      );
      if (!name) continue;
      // With code signing on (as here), the function runs the signed copy of its bundle's asset.
      const signing = fn.Properties.Code.S3Key?.['Fn::GetAtt']?.[0];
      const key = signing ? resources[signing]?.Properties.SourceKey : fn.Properties.Code.S3Key;
      assets.set(name, join(full.outdir, `asset.${String(key).replace(/\.zip$/, '')}`));
    }
    return assets;
  };

  it("gives each function the bundle of its own entry, never another function's", () => {
    const assets = functionAssets();
    expect([...assets.keys()].sort()).toEqual(Object.keys(ENTRIES).sort());
    expect(new Set(assets.values()).size).toBe(Object.keys(ENTRIES).length);
    for (const [name, dir] of assets) {
      // The source map lists the files the bundle was built from: the entry's among them.
      const { sources } = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8'));
      const entry = ENTRIES[name] as string;
      const built = (file: string) => sources.some((source: string) => source.endsWith(file));
      expect(built(entry), `${name} bundled from ${entry}`).toBe(true);
      for (const other of Object.values(ENTRIES).filter((e) => e !== entry && e.endsWith('handler.ts')))
        expect(built(other), `${name} holds ${other}`).toBe(false);
    }
  });

  it('gives each function a bundle that loads as Lambda loads it: every chunk there, handler exported', async () => {
    // A fresh Node with no configuration: the handler is exported, or the bundle stops at its first
    // missing variable (the verifier reads its configuration when it loads) — never a module not found.
    const load = (dir: string) =>
      promisify(execFile)(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(join(dir, 'index.mjs'))}); console.log(typeof m.handler);`,
        ],
        { env: { PATH: process.env.PATH }, cwd: dir },
      ).then(
        ({ stdout }) => stdout.trim(),
        (error) =>
          /configuration: environment variable VOUCH_[A-Z_]+ is required/.exec(error.stderr)?.[0] ??
          error.stderr,
      );
    const outcomes = Object.fromEntries(
      await Promise.all([...functionAssets()].map(async ([name, dir]) => [name, await load(dir)] as const)),
    );
    for (const [name, outcome] of Object.entries(outcomes))
      expect(outcome, name).toMatch(
        /^(function|configuration: environment variable VOUCH_[A-Z_]+ is required)$/,
      );
    expect(Object.values(outcomes)).toContain('function');
  });

  it('splits the verifier bundle: the policy syntax and the CEL engine load only when needed', () => {
    const assets = readdirSync(full.outdir).filter((d) => d.startsWith('asset.'));
    const dir = join(
      full.outdir,
      assets.find((d) => existsSync(join(full.outdir, d, 'policy.yaml'))) as string,
    );
    const chunks = readdirSync(dir).filter((name) => name.endsWith('.mjs'));
    // What importing index.mjs loads: it and the chunks it imports statically, transitively.
    const loaded = new Set<string>();
    const visit = (name: string) => {
      if (loaded.has(name)) return;
      loaded.add(name);
      const code = readFileSync(join(dir, name), 'utf8');
      for (const [, imported] of code.matchAll(
        /(?:^|[;}\s])(?:import|export)(?:[^"'()]*?from)?\s*["']\.\/([^"']+)["']/g,
      ))
        visit(imported as string);
    };
    visit('index.mjs');
    for (const lazy of ['policy-syntax', 'conditions']) {
      const chunk = chunks.find((name) => name.startsWith(`${lazy}-`));
      expect(chunk, `a ${lazy} chunk`).toBeDefined();
      expect(loaded.has(chunk as string), `${chunk} loaded at import`).toBe(false);
    }
    expect(loaded.size).toBeGreaterThan(1);
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
    const sweep = resourcesOf(full, 'AWS::Lambda::Function').find(([, r]) =>
      /^Vouch verifier, sweep/.test(String(r.Properties.Description)),
    );
    full.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [sweep?.[0], 'Arn'] } }),
    });
    // The first key, and the first trust-root refresh (test/infra/trust.ts).
    full.template.resourceCountIs('Custom::Trigger', 2);
  });
});

describe('monitoring and outputs', () => {
  it("alarms on dead letters, errors of the verifier's three functions and failed rotations, to an encrypted topic", () => {
    const alarms = Object.values(full.json.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual(
      [
        'ApproximateAgeOfOldestMessage',
        'ApproximateNumberOfMessagesVisible',
        'Errors',
        'Errors',
        'Errors',
        'Errors',
        'ProcessingErrors',
        'RotationDeferred',
        // The trust refresher's, per instance (test/infra/trust.ts).
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
        'DecisionTopicArn',
        'DeploymentBucketName',
        'EventBusName',
        'IndexTableName',
        'KeysTableName',
        'PolicyBucketName',
        'PolicyKeyAlias',
        'RecordsTableName',
        'RotationFunctionName',
        'SigningKeyAlias',
        'StagingBucketName',
        'TrustBucketName',
        'UploaderPrefix',
        'UploaderRoleArn',
        'VsaKeyAlias',
        'VsaSigningAlias',
      ].sort(),
    );
  });
});

describe('logical IDs of what outlives a deployment', () => {
  // A renamed construct gets a new logical ID: CloudFormation creates a new bucket, table or key and,
  // these being retained, orphans the old one with its data. Renaming any of them must be deliberate.
  it('are pinned', () => {
    const retained = Object.entries(full.json.Resources)
      .filter(([, r]) =>
        ['Retain', 'RetainExceptOnCreate'].includes((r as { DeletionPolicy?: string }).DeletionPolicy ?? ''),
      )
      .map(([id, r]) => `${r.Type} ${id}`)
      .sort();
    expect(retained).toEqual([
      'AWS::DynamoDB::Table TablesIndexTable6F37BAD5',
      'AWS::DynamoDB::Table TablesKeysTable114E007B',
      'AWS::DynamoDB::Table TablesRecordsTableF22650A8',
      'AWS::KMS::Key KeysDataKey8F3FE3A4',
      'AWS::KMS::Key KeysVsaKey73993499',
      'AWS::KMS::Key PolicyKey382E7EE1',
      'AWS::Logs::LogGroup CodeSigningLogs85E3B052',
      'AWS::Logs::LogGroup RotationLogs7923911A',
      'AWS::Logs::LogGroup TrustRefresherLogsD54A05AA',
      'AWS::Logs::LogGroup VerifierLogs511A5818',
      'AWS::Logs::LogGroup VerifierRecheckLogs27A89787',
      'AWS::Logs::LogGroup VerifierSweepLogs005CEE75',
      'AWS::S3::Bucket AccessLogsBucketCD784A59',
      'AWS::S3::Bucket CodeSigningSignedCode14A73061',
      'AWS::S3::Bucket DeploymentBucketF1EB7099',
      'AWS::S3::Bucket PolicyBucket00C29BB7',
      'AWS::S3::Bucket StagingBucketF0D7AEDD',
      'AWS::S3::Bucket TrustBucket15362AD9',
      'AWS::S3::BucketPolicy AccessLogsBucketPolicy3D5B5143',
      'AWS::S3::BucketPolicy CodeSigningSignedCodePolicy137CC9DE',
      'AWS::S3::BucketPolicy DeploymentBucketPolicy33663855',
      'AWS::S3::BucketPolicy PolicyBucketPolicy850AB670',
      'AWS::S3::BucketPolicy StagingBucketPolicy70C2CE4D',
      'AWS::S3::BucketPolicy TrustBucketPolicy818D677D',
    ]);
  });
});

// The trust refresher's tests, on the same synthesis of the default configuration.
trustRefresherTests(() => defaults);
