import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_REGISTRY_WRITE_ACTIONS } from '../../lib/tables.ts';
import { flatten, identityAllows, type Request, resourcePolicyDenies, trustAllows } from './iam.ts';
import { type Statement, type Synthesized, statements, synth } from './synth.ts';

const ACCOUNT = '123456789012';
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
/** Two pipelines with GitHub repositories (a tag release in a protected environment among them), one without. */
const PIPELINES = {
  pipelines: [
    {
      name: 'app',
      prefixes: ['acme/app/'],
      github: [
        { owner: 'acme', repo: 'app', refs: ['refs/heads/main', 'refs/tags/v*'] },
        { owner: 'acme', repo: 'app-release', refs: ['refs/tags/v*'], environment: 'production' },
      ],
    },
    {
      name: 'tools',
      prefixes: ['acme/tools/', 'shared/tools/'],
      github: [{ owner: 'acme', repo: 'tools' }],
      signerPrincipalArns: [`arn:aws:iam::${ACCOUNT}:role/tools-release`],
    },
    { name: 'offline', prefixes: ['offline/'] },
  ],
  github: { oidcProviderArn: PROVIDER },
};
/** A stack configured before pipelines: one alias, one repository. */
const LEGACY = {
  github: { owner: 'acme', repo: 'app', branches: ['main', 'release/*'] },
  signerPrincipalArns: [`arn:aws:iam::${ACCOUNT}:role/release-pipeline`],
};

let piped: Synthesized;
let legacy: Synthesized;
beforeAll(() => {
  piped = synth(PIPELINES, { bundle: false });
  legacy = synth(LEGACY, { bundle: false });
}, 120_000);
afterAll(() => {
  piped?.cleanup();
  legacy?.cleanup();
});

const idOf = (template: Synthesized, type: string, test: (id: string, r: any) => boolean) => {
  const ids = Object.entries(template.json.Resources)
    .filter(([id, r]) => r.Type === type && test(id, r))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.join(', ') || 'none'}`);
  return ids[0] as string;
};
const uploaderOf = (template: Synthesized, pipeline: string) =>
  idOf(template, 'AWS::IAM::Role', (_, r) =>
    String(r.Properties.Description).startsWith(`Vouch uploader of pipeline ${pipeline}:`),
  );
const tableOf = (template: Synthesized, name: string) =>
  idOf(template, 'AWS::DynamoDB::Table', (id) => id.includes(name));
const bucketOf = (template: Synthesized, name: string) =>
  idOf(template, 'AWS::S3::Bucket', (id) => id.includes(name));
const roleOf = (template: Synthesized, name: string) =>
  idOf(template, 'AWS::IAM::Role', (id) => id.startsWith(name));
const functionEnv = (template: Synthesized, description: string) =>
  Object.values(template.json.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Description).startsWith(description),
  )?.Properties.Environment.Variables;

const put = (template: Synthesized, key: string): Request => ({
  action: 's3:PutObject',
  resource: `\${${bucketOf(template, 'StagingBucket')}.Arn}/${key}`,
});
const query = (template: Synthesized, objectKey: string, index?: string): Request => ({
  action: 'dynamodb:Query',
  resource: `\${${tableOf(template, 'RecordsTable')}.Arn}${index ? `/index/${index}` : ''}`,
  context: { 'dynamodb:LeadingKeys': [index ? `DIGEST#sha256:${'a'.repeat(64)}` : `OBJ#${objectKey}`] },
});
const sign = (alias: string, keyAlias: string, purpose = 'signing'): Request => ({
  action: 'kms:Sign',
  resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/k`,
  context: {
    'kms:RequestAlias': alias,
    'aws:ResourceTag/vouch:purpose': purpose,
    'aws:ResourceTag/vouch:alias': keyAlias,
  },
});
const github = (sub: string, claims: Record<string, string> = {}) => ({
  'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
  'token.actions.githubusercontent.com:sub': sub,
  ...Object.fromEntries(
    Object.entries(claims).map(([k, v]) => [`token.actions.githubusercontent.com:${k}`, v]),
  ),
});

describe('pipelines (issue 14): each upload role acts for its own pipeline only', () => {
  describe('uploads', () => {
    it("writes its own prefixes and never another pipeline's, nor the staging bucket's root", () => {
      const app = uploaderOf(piped, 'app');
      const tools = uploaderOf(piped, 'tools');
      expect(identityAllows(piped.json, app, put(piped, 'acme/app/releases/v1/app.tgz'))).toBe(true);
      expect(identityAllows(piped.json, app, put(piped, 'acme/tools/x.tgz'))).toBe(false);
      expect(identityAllows(piped.json, app, put(piped, 'acme/app-evil/x.tgz'))).toBe(false);
      expect(identityAllows(piped.json, app, put(piped, 'x.tgz'))).toBe(false);
      expect(identityAllows(piped.json, tools, put(piped, 'shared/tools/t.tgz'))).toBe(true);
      expect(identityAllows(piped.json, tools, put(piped, 'acme/app/x.tgz'))).toBe(false);
    });

    it('gives a pipeline without GitHub repositories no upload role', () => {
      expect(() => uploaderOf(piped, 'offline')).toThrow(/found none/);
    });
  });

  describe('signing', () => {
    it("signs through its own alias, with its own pipeline's keys only", () => {
      const app = uploaderOf(piped, 'app');
      expect(
        identityAllows(piped.json, app, sign('alias/vouch-signing/app', 'alias/vouch-signing/app')),
      ).toBe(true);
      // Another pipeline's alias, or its own alias pointed at another pipeline's key, or at a summary key.
      expect(
        identityAllows(piped.json, app, sign('alias/vouch-signing/tools', 'alias/vouch-signing/tools')),
      ).toBe(false);
      expect(
        identityAllows(piped.json, app, sign('alias/vouch-signing/app', 'alias/vouch-signing/tools')),
      ).toBe(false);
      expect(
        identityAllows(piped.json, app, sign('alias/vouch-signing/app', 'alias/vouch-signing/app', 'vsa')),
      ).toBe(false);
      // The key directly, by its ARN (no alias in the request).
      expect(identityAllows(piped.json, app, { ...sign('', ''), context: {} })).toBe(false);
    });

    it("names each pipeline's own signers in its keys' policy: its upload role and its outside signers", () => {
      const env = functionEnv(piped, 'Vouch key rotation');
      const pipelines = JSON.parse(flatten(env.VOUCH_PIPELINES));
      expect(pipelines).toEqual([
        {
          name: 'app',
          alias: 'alias/vouch-signing/app',
          prefixes: ['acme/app/'],
          signers: [`\${${uploaderOf(piped, 'app')}.Arn}`],
        },
        {
          name: 'tools',
          alias: 'alias/vouch-signing/tools',
          prefixes: ['acme/tools/', 'shared/tools/'],
          signers: [`\${${uploaderOf(piped, 'tools')}.Arn}`, `arn:aws:iam::${ACCOUNT}:role/tools-release`],
        },
        { name: 'offline', alias: 'alias/vouch-signing/offline', prefixes: ['offline/'], signers: [] },
      ]);
    });

    it("tells the verifier each pipeline's scope", () => {
      const env = functionEnv(piped, 'Vouch verifier:');
      expect(JSON.parse(flatten(env.VOUCH_PIPELINES)).map((p: { name: string }) => p.name)).toEqual([
        'app',
        'tools',
        'offline',
      ]);
    });
  });

  describe('reading its own decisions (vouch upload --wait, vouch status)', () => {
    it('queries the records of its own prefixes by their leading key, and nothing else', () => {
      const app = uploaderOf(piped, 'app');
      expect(identityAllows(piped.json, app, query(piped, 'acme/app/releases/v1/app.tgz'))).toBe(true);
      expect(identityAllows(piped.json, app, query(piped, 'acme/tools/x.tgz'))).toBe(false);
      expect(identityAllows(piped.json, app, query(piped, 'acme/application/x.tgz'))).toBe(false);
      // The indexes hold every pipeline's records (by digest, by status): never.
      expect(identityAllows(piped.json, app, query(piped, '', 'gsi1'))).toBe(false);
      // A Scan names no leading key; it is not allowed at all, nor any write.
      for (const action of ['dynamodb:Scan', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem']) {
        const request = { ...query(piped, 'acme/app/x'), action };
        expect(identityAllows(piped.json, app, request), action).toBe(false);
      }
      const tools = uploaderOf(piped, 'tools');
      expect(identityAllows(piped.json, tools, query(piped, 'shared/tools/t.tgz'))).toBe(true);
    });

    it('is the leading-key condition, asserted as synthesized', () => {
      const app = uploaderOf(piped, 'app');
      const read = statements(piped.json).find(
        (s) => s.roles.includes(app) && s.statement.Sid === 'ReadOwnRecords',
      );
      expect(read?.statement).toMatchObject({
        Action: 'dynamodb:Query',
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['OBJ#acme/app/*'] } },
      });
      expect(flatten(read?.statement.Resource)).toBe(`\${${tableOf(piped, 'RecordsTable')}.Arn}`);
    });
  });

  describe('who may assume an upload role (GitHub OIDC)', () => {
    it('admits branch and tag workflows of its repositories, by glob', () => {
      const app = uploaderOf(piped, 'app');
      expect(trustAllows(piped.json, app, github('repo:acme/app:ref:refs/heads/main'))).toBe(true);
      expect(trustAllows(piped.json, app, github('repo:acme/app:ref:refs/tags/v1.2.3'))).toBe(true);
      expect(trustAllows(piped.json, app, github('repo:acme/app:ref:refs/heads/feature'))).toBe(false);
      expect(trustAllows(piped.json, app, github('repo:acme/app:pull_request'))).toBe(false);
      expect(trustAllows(piped.json, app, github('repo:acme/tools:ref:refs/heads/main'))).toBe(false);
      expect(
        trustAllows(piped.json, app, {
          ...github('repo:acme/app:ref:refs/heads/main'),
          'token.actions.githubusercontent.com:aud': 'other',
        }),
      ).toBe(false);
    });

    it('admits a repository with an environment only from that environment, and only for its refs', () => {
      const app = uploaderOf(piped, 'app');
      const production = 'repo:acme/app-release:environment:production';
      expect(trustAllows(piped.json, app, github(production, { ref: 'refs/tags/v2.0.0' }))).toBe(true);
      expect(trustAllows(piped.json, app, github(production, { ref: 'refs/heads/main' }))).toBe(false);
      expect(trustAllows(piped.json, app, github(production))).toBe(false);
      expect(
        trustAllows(
          piped.json,
          app,
          github('repo:acme/app-release:environment:staging', { ref: 'refs/tags/v2' }),
        ),
      ).toBe(false);
      // Without the environment, that repository's tag workflows are not admitted.
      expect(trustAllows(piped.json, app, github('repo:acme/app-release:ref:refs/tags/v2.0.0'))).toBe(false);
    });

    it("admits one pipeline's repositories to its role only", () => {
      const tools = uploaderOf(piped, 'tools');
      expect(trustAllows(piped.json, tools, github('repo:acme/tools:ref:refs/heads/main'))).toBe(true);
      expect(trustAllows(piped.json, tools, github('repo:acme/app:ref:refs/heads/main'))).toBe(false);
    });
  });
});

describe('the key registry as a trust store', () => {
  const registryPolicy = (template: Synthesized) =>
    template.json.Resources[tableOf(template, 'KeysTable')]?.Properties.ResourcePolicy.PolicyDocument
      .Statement as Statement[];

  it('refuses every write to every principal but the rotation role, administrators included', () => {
    const rotation = roleOf(piped, 'RotationRole');
    for (const action of KEY_REGISTRY_WRITE_ACTIONS) {
      const by = (arn: string) => ({ action, context: { 'aws:PrincipalArn': arn } });
      expect(
        resourcePolicyDenies(registryPolicy(piped), by(`arn:aws:iam::${ACCOUNT}:role/Admin`)),
        action,
      ).toBe(true);
      expect(resourcePolicyDenies(registryPolicy(piped), by(`\${${rotation}.Arn}`)), action).toBe(false);
    }
    // Reading is left to identity policies.
    const read = {
      action: 'dynamodb:GetItem',
      context: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/Admin` },
    };
    expect(resourcePolicyDenies(registryPolicy(piped), read)).toBe(false);
  });

  it('is written by no identity policy but the rotation role’s', () => {
    const keysTable = tableOf(piped, 'KeysTable');
    const writers = statements(piped.json).filter(
      (s) =>
        s.statement.Effect === 'Allow' &&
        s.actions.some((a) => (KEY_REGISTRY_WRITE_ACTIONS as readonly string[]).includes(a)) &&
        flatten(s.statement.Resource).includes(keysTable),
    );
    expect(writers.flatMap((s) => s.roles)).toEqual([roleOf(piped, 'RotationRole')]);
  });

  it('lets deployers read one key record at a time (the key a summary names), never a lease or a write', () => {
    const policy = idOf(piped, 'AWS::IAM::ManagedPolicy', (id) => id.startsWith('DeployerPolicy'));
    const read = statements(piped.json).find(
      (s) => s.holder === policy && s.statement.Sid === 'ReadKeyRecords',
    );
    expect(read?.statement).toMatchObject({
      Action: 'dynamodb:GetItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['KEY#*'] } },
    });
  });
});

describe('the verification summary keys', () => {
  const promoter = () => roleOf(piped, 'PromoterRole');

  it('are signed with by the promoter through the rotating alias, on keys tagged as summary keys only', () => {
    expect(
      identityAllows(
        piped.json,
        promoter(),
        sign('alias/vouch-vsa/rotating', 'alias/vouch-vsa/rotating', 'vsa'),
      ),
    ).toBe(true);
    // Never a pipeline's signing key, whatever alias names it.
    expect(
      identityAllows(piped.json, promoter(), sign('alias/vouch-vsa/rotating', 'alias/vouch-vsa/rotating')),
    ).toBe(false);
    expect(
      identityAllows(piped.json, promoter(), sign('alias/vouch-signing/app', 'alias/vouch-signing/app')),
    ).toBe(false);
  });

  it('are rotated by the rotation function, which adopts the stack’s VSA key as the first', () => {
    const env = functionEnv(piped, 'Vouch key rotation');
    expect(env.VOUCH_VSA_SIGNING_ALIAS).toBe('alias/vouch-vsa/rotating');
    expect(env.VOUCH_VSA_SIGNERS).toEqual({ 'Fn::GetAtt': [promoter(), 'Arn'] });
    expect(env.VOUCH_VSA_ROTATION_PERIOD_DAYS).toBe('365');
    expect(flatten(env.VOUCH_VSA_KEY_ID)).toBe(
      `\${${idOf(piped, 'AWS::KMS::Key', (id) => id.includes('VsaKey'))}.Arn}`,
    );
    const tags =
      piped.json.Resources[idOf(piped, 'AWS::KMS::Key', (id) => id.includes('VsaKey'))]?.Properties.Tags;
    expect(tags).toContainEqual({ Key: 'vouch:alias', Value: 'alias/vouch-vsa/rotating' });
  });
});

describe('migration from a single alias (a stack configured before pipelines)', () => {
  it('keeps the uploader role, the GitHub provider and the VSA alias where they were (same logical IDs)', () => {
    const ids = Object.keys(legacy.json.Resources);
    expect(ids).toContain('UploaderRole9495209B');
    expect(ids).toContain('UploaderGithubOidcProvider452CA2A8');
    expect(ids).toContain('KeysVsaKeyAliasB8B545F7');
  });

  it('makes the one alias the key line of a default pipeline whose scope is every key', () => {
    const env = functionEnv(legacy, 'Vouch key rotation');
    expect(JSON.parse(flatten(env.VOUCH_PIPELINES))).toEqual([
      {
        name: 'default',
        alias: 'alias/vouch-signing',
        prefixes: [''],
        signers: [`\${UploaderRole9495209B.Arn}`, `arn:aws:iam::${ACCOUNT}:role/release-pipeline`],
      },
    ]);
    const verifier = JSON.parse(flatten(functionEnv(legacy, 'Vouch verifier:').VOUCH_PIPELINES));
    expect(verifier).toEqual([{ name: 'default', alias: 'alias/vouch-signing', prefixes: [''] }]);
  });

  it('leaves the uploader writing its repository prefix only, now also reading that prefix’s decisions', () => {
    const uploader = 'UploaderRole9495209B';
    expect(identityAllows(legacy.json, uploader, put(legacy, 'acme/app/x.tgz'))).toBe(true);
    expect(identityAllows(legacy.json, uploader, put(legacy, 'releases/x.tgz'))).toBe(false);
    expect(identityAllows(legacy.json, uploader, query(legacy, 'acme/app/x.tgz'))).toBe(true);
    expect(identityAllows(legacy.json, uploader, query(legacy, 'releases/x.tgz'))).toBe(false);
    expect(identityAllows(legacy.json, uploader, sign('alias/vouch-signing', 'alias/vouch-signing'))).toBe(
      true,
    );
    expect(trustAllows(legacy.json, uploader, github('repo:acme/app:ref:refs/heads/release/1.x'))).toBe(true);
  });

  it('keeps the outputs pipelines use (UploaderRoleArn, UploaderPrefix, SigningKeyAlias)', () => {
    const outputs = legacy.json.Outputs ?? {};
    expect(outputs.UploaderPrefix?.Value).toBe('acme/app/');
    expect(outputs.SigningKeyAlias?.Value).toBe('alias/vouch-signing');
    expect(outputs.UploaderRoleArn?.Value).toEqual({ 'Fn::GetAtt': ['UploaderRole9495209B', 'Arn'] });
  });
});
