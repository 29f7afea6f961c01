import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { PROJECT_ROOT } from '../../lib/function.ts';
import { type FoundStatement, mentions, type Synthesized, statements, synth } from './synth.ts';

// The signed-policy store and key, and the decision events bus with its fan-out, in the stack.

const ADMIN = 'arn:aws:iam::123456789012:role/policy-admin';
let defaults: Synthesized;
let fanOut: Synthesized;
let all: FoundStatement[];

const idOf = (synthesized: Synthesized, type: string, contains: string) => {
  const found = Object.entries(synthesized.json.Resources)
    .filter(([id, r]) => r.Type === type && id.includes(contains))
    .map(([id]) => id);
  if (found.length !== 1)
    throw new Error(`expected one ${type} with ${contains}, found ${found.join(', ') || 'none'}`);
  return found[0] as string;
};

beforeAll(() => {
  defaults = synth({ policySignerPrincipalArns: [ADMIN] }, { bundle: false });
  all = statements(defaults.json);
  fanOut = synth(
    {
      decisionTopic: true,
      decisionWebhook: {
        url: 'https://hooks.example.com/vouch',
        apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vouch-hook-AbCdEf',
      },
    },
    { bundle: false },
  );
}, 180_000);
afterAll(() => {
  defaults?.cleanup();
  fanOut?.cleanup();
});

describe('signed policy in the stack', () => {
  it('lets nobody delete a policy version, nor write one unconditionally (no replacing, no rollback)', () => {
    const bucket = idOf(defaults, 'AWS::S3::Bucket', 'PolicyBucket');
    const denials = all.filter(
      (s) =>
        s.holderType === 'AWS::S3::BucketPolicy' &&
        s.statement.Effect === 'Deny' &&
        mentions(s.statement.Resource, bucket),
    );
    const deletes = denials.find((s) => s.actions.includes('s3:DeleteObject'));
    expect(deletes?.actions).toEqual(expect.arrayContaining(['s3:DeleteObject', 's3:DeleteObjectVersion']));
    expect(deletes?.statement.Principal).toEqual({ AWS: '*' });
    expect(deletes?.statement.Condition).toBeUndefined();
    const puts = denials.find((s) => s.actions.includes('s3:PutObject'));
    expect(puts?.statement.Condition).toEqual({ Null: { 's3:if-none-match': 'true' } });
  });

  it('lets only the named principals sign with the policy key; the account verifies and administers', () => {
    const key = idOf(defaults, 'AWS::KMS::Key', 'PolicyKey');
    const onKey = all.filter((s) => s.holder === key && s.statement.Effect === 'Allow');
    const signing = onKey.filter((s) => s.actions.includes('kms:Sign'));
    expect(signing).toHaveLength(1);
    expect(signing[0]?.statement.Condition).toEqual({ ArnEquals: { 'aws:PrincipalArn': [ADMIN] } });
    const account = onKey.find((s) => s.statement.Sid === 'AccountAdministersAndVerifies');
    expect(account?.actions).toContain('kms:GetPublicKey');
    expect(account?.actions).not.toContain('kms:PutKeyPolicy');
    defaults.template.hasResourceProperties('AWS::KMS::Key', {
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Description: 'Vouch policy key: signs policy bundles the verifier loads',
    });
  });

  it('lets the verifier list and read policy versions and the key’s public key, and tells it where', () => {
    const promoter = idOf(defaults, 'AWS::IAM::Role', 'PromoterRole');
    const bucket = idOf(defaults, 'AWS::S3::Bucket', 'PolicyBucket');
    const key = idOf(defaults, 'AWS::KMS::Key', 'PolicyKey');
    const onBucket = all.filter((s) => s.roles.includes(promoter) && mentions(s.statement.Resource, bucket));
    expect(onBucket.flatMap((s) => s.actions).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const list = onBucket.find((s) => s.actions.includes('s3:ListBucket'));
    expect(list?.statement.Condition).toEqual({ StringLike: { 's3:prefix': ['policy/*'] } });
    expect(
      all
        .filter((s) => s.roles.includes(promoter) && mentions(s.statement.Resource, key))
        .flatMap((s) => s.actions),
    ).toEqual(['kms:GetPublicKey']);
    const verifiers = Object.values(defaults.json.Resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        JSON.stringify(r.Properties?.Environment ?? {}).includes('VOUCH_STAGING_BUCKET'),
    );
    expect(verifiers).toHaveLength(3);
    for (const fn of verifiers) {
      const variables = fn.Properties.Environment.Variables;
      expect(Object.keys(variables)).toEqual(
        expect.arrayContaining([
          'VOUCH_POLICY_BUCKET',
          'VOUCH_POLICY_KEY_ID',
          'VOUCH_POLICY_PREFIX',
          'VOUCH_EVENT_BUS',
        ]),
      );
    }
  });
});

describe('decision events in the stack', () => {
  it('lets the verifier put events on its own bus, and nothing else on events', () => {
    const promoter = idOf(defaults, 'AWS::IAM::Role', 'PromoterRole');
    const bus = idOf(defaults, 'AWS::Events::EventBus', 'EventsBus');
    const put = all.filter(
      (s) => s.roles.includes(promoter) && s.actions.some((a) => a.startsWith('events:')),
    );
    expect(put.flatMap((s) => s.actions)).toEqual(['events:PutEvents']);
    expect(mentions(put[0]?.statement.Resource, bus)).toBe(true);
  });

  it('has no fan-out by default', () => {
    expect(
      Object.values(defaults.json.Resources).filter((r) =>
        ['AWS::Events::Rule', 'AWS::Events::ApiDestination'].includes(r.Type),
      ),
    ).toEqual([]);
  });

  it('fans out to an encrypted SNS topic through a role, and to a webhook through an API destination', () => {
    const resources = Object.entries(fanOut.json.Resources);
    const topic = resources.find(([id, r]) => r.Type === 'AWS::SNS::Topic' && id.startsWith('Events'));
    expect(topic?.[1].Properties.KmsMasterKeyId).toBeDefined();
    const rules = resources.filter(([, r]) => r.Type === 'AWS::Events::Rule').map(([, r]) => r.Properties);
    expect(rules).toHaveLength(2);
    for (const rule of rules) expect(rule.EventPattern).toEqual({ source: ['vouch'] });
    expect(rules.every((rule) => rule.Targets[0].RoleArn)).toBe(true);
    fanOut.template.hasResourceProperties('AWS::Events::ApiDestination', {
      InvocationEndpoint: 'https://hooks.example.com/vouch',
      HttpMethod: 'POST',
    });
    fanOut.template.hasResourceProperties('AWS::Events::Connection', { AuthorizationType: 'API_KEY' });
    const topicPolicies = statements(fanOut.json).filter(
      (s) =>
        s.holderType === 'AWS::SNS::TopicPolicy' &&
        s.statement.Effect === 'Allow' &&
        JSON.stringify(s.statement.Principal).includes('events.amazonaws.com'),
    );
    expect(topicPolicies).toEqual([]);
  });
});

describe('configuration', () => {
  const load = (vouch: Record<string, unknown>) => () => loadConfig(vouch, { baseDir: PROJECT_ROOT });
  it.each([
    [
      {
        decisionWebhook: {
          url: 'http://hooks.example.com',
          apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x',
        },
      },
      /decisionWebhook\.url must be an https:\/\/ URL/,
    ],
    [
      { decisionWebhook: { url: 'https://hooks.example.com', apiKeySecretArn: 'nope' } },
      /apiKeySecretArn must be a Secrets Manager secret ARN/,
    ],
    [
      {
        decisionWebhook: {
          url: 'https://h.example.com',
          apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x',
          extra: 1,
        },
      },
      /unknown key extra/,
    ],
    [{ policySignerPrincipalArns: ['someone'] }, /policySignerPrincipalArns must hold IAM role or user ARNs/],
    [{ policyKeyAlias: 'vouch-policy' }, /policyKeyAlias must be a KMS alias name/],
  ])('refuses %j', (vouch, message) => {
    expect(load(vouch)).toThrow(message);
  });
});
