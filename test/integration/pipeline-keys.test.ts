import {
  CreateKeyCommand,
  DescribeKeyCommand,
  KMSClient,
  ListResourceTagsCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { KEYS_TABLE } from '#adapters/tables.ts';
import {
  type RotationFunctionConfig,
  readRotationConfig,
  rotationEnvironment,
} from '../../lambdas/rotate/config.ts';
import {
  handleRotationRequest,
  type RequestOutcome,
  type RotationRequest,
} from '../../lambdas/rotate/requests.ts';
import { type KmsServer, startKmsServer } from '../../local/kms/server.ts';
import { ensureTable } from '../../local/stack.ts';
import { startDynamo, TEST_CREDENTIALS, type TestDynamo } from '../helpers/dynamo.ts';

const DAY = 86_400_000;
const ACCOUNT = '000000000000';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const MANAGER = role('Vouch-key-rotation-us-east-1');
/** Two pipelines and the summary keys, as the stack configures the rotation function. */
const PIPELINES = [
  { name: 'app', alias: 'alias/vouch-signing/app', prefixes: ['acme/app/'], signers: [role('UploaderApp')] },
  {
    name: 'tools',
    alias: 'alias/vouch-signing/tools',
    prefixes: ['acme/tools/'],
    signers: [role('UploaderTools')],
  },
];
const VSA_ALIAS = 'alias/vouch-vsa/rotating';

let kmsServer: KmsServer;
let simulated = new Date('2026-03-02T00:00:00Z');
let kms: KMSClient;
let dynamo: TestDynamo;
let registry: KeyRegistry;
let config: RotationFunctionConfig;
/** The stack's first VSA key, a CloudFormation resource the rotation function adopts. */
let genesis: string;

beforeAll(async () => {
  kmsServer = await startKmsServer({ clock: () => simulated });
  kms = new KMSClient({ endpoint: kmsServer.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  dynamo = await startDynamo('pipeline-keys');
});
afterAll(async () => {
  kms.destroy();
  await kmsServer.close();
  await dynamo.close();
});

let table = 0;
beforeEach(async () => {
  // A fresh registry per case, as after a first deployment.
  const name = `keys-pipelines-${++table}`;
  await ensureTable(dynamo.client, KEYS_TABLE, name);
  registry = new KeyRegistry(dynamo.doc, name);
  genesis = (
    await kms.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Tags: [{ TagKey: 'vouch:purpose', TagValue: 'vsa' }],
      }),
    )
  ).KeyMetadata?.Arn as string;
  // The environment exactly as the CDK construct writes it (rotationEnvironment), read as the function does.
  config = readRotationConfig(
    rotationEnvironment({
      keysTable: name,
      rotation: { periodDays: 30, graceDays: 2, retentionDays: 10, deletionWindowDays: 7 },
      managerArn: MANAGER,
      readerArns: [role('Vouch-PromoterRole')],
      pipelines: PIPELINES,
      vsa: { alias: VSA_ALIAS, signerArns: [role('Vouch-PromoterRole')], periodDays: 365, keyId: genesis },
    }),
  );
});

const at = (iso: string) => new Date(iso);
const context = { getRemainingTimeInMillis: () => 600_000 };
const quiet = { logger: { info: () => {}, warn: () => {}, error: () => {} } };
async function invoke(event: RotationRequest | null, now: Date): Promise<RequestOutcome> {
  simulated = now;
  return handleRotationRequest(
    { kms, registry, lines: config.lines, managerArn: MANAGER },
    event,
    context,
    { ...quiet, retry: { sleep: async () => {}, now: () => 0 } },
    () => now,
  );
}
const aliasTarget = async (alias: string) =>
  (await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata?.Arn;
const linesOf = (outcome: RequestOutcome) => {
  if (!('lines' in outcome)) throw new Error(`expected rotation results, got ${JSON.stringify(outcome)}`);
  return outcome.lines as Record<string, { activated?: string; skipped?: string; adopted?: string }>;
};

describe('the rotation function with two pipelines and the summary keys', () => {
  it('gives each pipeline its own key behind its own alias, registered with its pipeline, scope and creator', async () => {
    const lines = linesOf(await invoke(null, at('2026-03-02T00:00:00Z')));
    const app = lines['pipeline:app']?.activated as string;
    const tools = lines['pipeline:tools']?.activated as string;
    expect(app).toMatch(/^arn:aws:kms:/);
    expect(tools).toMatch(/^arn:aws:kms:/);
    expect(app).not.toBe(tools);
    expect(await aliasTarget('alias/vouch-signing/app')).toBe(app);
    expect(await aliasTarget('alias/vouch-signing/tools')).toBe(tools);
    expect(await registry.get(app)).toMatchObject({
      pipeline: 'app',
      purpose: 'signing',
      scope: ['acme/app/'],
      alias: 'alias/vouch-signing/app',
      createdBy: MANAGER,
      status: 'active',
    });
    const tags = (await kms.send(new ListResourceTagsCommand({ KeyId: tools }))).Tags ?? [];
    expect(tags).toContainEqual({ TagKey: 'vouch:alias', TagValue: 'alias/vouch-signing/tools' });
    // Each key's policy lets only its own pipeline's uploader sign, through its own alias.
    const { Policy } = await kmsPolicy(app);
    expect(Policy).toContain(role('UploaderApp'));
    expect(Policy).not.toContain(role('UploaderTools'));
    expect(Policy).toContain('"kms:RequestAlias":"alias/vouch-signing/app"');
  });

  it('rotates the two pipelines independently: one by hand, then each on its own lease', async () => {
    const first = linesOf(await invoke(null, at('2026-03-02T00:00:00Z')));
    const forced = linesOf(
      await invoke(
        { action: 'rotate', pipeline: 'tools', force: true, requestedBy: role('admin') },
        at('2026-03-03T00:00:00Z'),
      ),
    );
    expect(Object.keys(forced)).toEqual(['pipeline:tools']);
    const newTools = forced['pipeline:tools']?.activated as string;
    expect(newTools).not.toBe(first['pipeline:tools']?.activated);
    expect(await aliasTarget('alias/vouch-signing/app')).toBe(first['pipeline:app']?.activated);
    expect((await registry.get(newTools))?.createdBy).toBe(`${role('admin')} through ${MANAGER}`);
    expect((await registry.get(first['pipeline:tools']?.activated as string))?.status).toBe('retiring');
    expect((await registry.get(first['pipeline:app']?.activated as string))?.status).toBe('active');
    // The next day's scheduled run finds both current.
    const next = linesOf(await invoke({ source: 'schedule' }, at('2026-03-04T00:00:00Z')));
    expect(next['pipeline:app']).toMatchObject({ skipped: 'up-to-date' });
    expect(next['pipeline:tools']).toMatchObject({ skipped: 'up-to-date' });
  });

  describe('the summary (VSA) keys', () => {
    it('adopt the stack’s first summary key without replacing it, then rotate on their own period', async () => {
      const lines = linesOf(await invoke(null, at('2026-03-02T00:00:00Z')));
      expect(lines.vsa).toMatchObject({ adopted: genesis, skipped: 'up-to-date' });
      expect(await aliasTarget(VSA_ALIAS)).toBe(genesis);
      expect(await registry.get(genesis)).toMatchObject({ purpose: 'vsa', external: true, status: 'active' });
      expect((await registry.get(genesis))?.pipeline).toBeUndefined();
      // A year on, a new summary key: the stack's key is retired in the registry, never disabled in KMS.
      const later = linesOf(await invoke({ source: 'schedule' }, at('2027-03-10T00:00:00Z')));
      const next = later.vsa?.activated as string;
      expect(next).toMatch(/^arn:aws:kms:/);
      expect(await aliasTarget(VSA_ALIAS)).toBe(next);
      await invoke({ source: 'schedule' }, at('2027-03-20T00:00:00Z'));
      expect((await registry.get(genesis))?.status).toBe('retired');
      expect((await kms.send(new DescribeKeyCommand({ KeyId: genesis }))).KeyMetadata?.Enabled).toBe(true);
    });

    it('are never trusted as artifact signers by the verifier’s cache', async () => {
      await invoke(null, at('2026-03-02T00:00:00Z'));
      const cache = new RegistryKeyCache(
        registry,
        0,
        Date.now,
        config.lines.flatMap((l) =>
          l.rotation.pipeline
            ? [{ name: l.rotation.pipeline, alias: l.rotation.alias, prefixes: l.rotation.scope ?? [] }]
            : [],
        ),
      );
      await cache.preload([genesis]);
      expect(cache.lookup(genesis)).toMatchObject({ purpose: 'vsa' });
      expect(cache.lookup(genesis)?.pipeline).toBeUndefined();
    });
  });

  describe('revocation', () => {
    it('of one active key replaces it at once and disables it in KMS, recording who asked', async () => {
      const app = linesOf(await invoke(null, at('2026-03-02T00:00:00Z')))['pipeline:app']
        ?.activated as string;
      const outcome = await invoke(
        { action: 'revoke', keyId: app, effective: 'now', reason: 'leaked', requestedBy: role('admin') },
        at('2026-03-05T00:00:00Z'),
      );
      expect(outcome).toMatchObject({ revocation: { revoked: [app], unchanged: [] } });
      expect(await registry.get(app)).toMatchObject({
        status: 'revoked',
        revokedAt: '2026-03-05T00:00:00.000Z',
        revokedBy: role('admin'),
        revocationReason: 'leaked',
      });
      const replacement = await aliasTarget('alias/vouch-signing/app');
      expect(replacement).not.toBe(app);
      expect((await registry.get(replacement as string))?.status).toBe('active');
      expect((await kms.send(new DescribeKeyCommand({ KeyId: app }))).KeyMetadata?.Enabled).toBe(false);
    });

    it('of a whole pipeline revokes every key it ever had, suspends it, and leaves the other pipeline alone', async () => {
      const first = linesOf(await invoke(null, at('2026-03-02T00:00:00Z')));
      await invoke({ action: 'rotate', pipeline: 'app', force: true }, at('2026-03-03T00:00:00Z'));
      const appKeys = (await registry.list()).filter((k) => k.pipeline === 'app').map((k) => k.keyId);
      expect(appKeys).toHaveLength(2);
      const outcome = await invoke(
        { action: 'revoke', pipeline: 'app', effective: '2026-03-01T00:00:00Z', reason: 'CI compromised' },
        at('2026-03-04T00:00:00Z'),
      );
      expect(outcome).toMatchObject({ revocation: { suspended: 'app', unchanged: [] } });
      expect([...(('revocation' in outcome && outcome.revocation.revoked) || [])].sort()).toEqual(
        [...appKeys].sort(),
      );
      for (const keyId of appKeys) {
        expect((await registry.get(keyId))?.status).toBe('revoked');
        expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.Enabled).toBe(false);
      }
      // Signing through its alias now fails in KMS (the key is disabled).
      await expect(
        kms.send(
          new SignCommand({
            KeyId: 'alias/vouch-signing/app',
            Message: Buffer.alloc(32),
            MessageType: 'DIGEST',
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      ).rejects.toThrow();
      // The schedule gives it no new key, however long after; the other pipeline is untouched.
      const later = linesOf(await invoke({ source: 'schedule' }, at('2026-05-10T00:00:00Z')));
      expect(later['pipeline:app']).toMatchObject({ skipped: 'suspended' });
      expect(later['pipeline:tools']?.activated).toMatch(/^arn:aws:kms:/);
      expect((await registry.get(first['pipeline:tools']?.activated as string))?.status).not.toBe('revoked');
      // An administrator's forced rotation lifts the suspension.
      const resumed = linesOf(
        await invoke({ action: 'rotate', pipeline: 'app', force: true }, at('2026-05-11T00:00:00Z')),
      );
      expect(resumed['pipeline:app']).toMatchObject({ reason: 'forced' });
      expect((await registry.lease('alias/vouch-signing/app'))?.suspendedAt).toBeUndefined();
    });

    it.each([
      [
        {
          action: 'revoke',
          keyId: 'arn:aws:kms:us-east-1:000000000000:key/none',
          effective: 'now',
          reason: 'x',
        },
        /no key .* in the registry/,
      ],
      [
        { action: 'revoke', pipeline: 'nope', effective: 'now', reason: 'x' },
        /no pipeline nope; configured: app, tools/,
      ],
      [
        { action: 'revoke', pipeline: 'app', effective: '2026-03-01T00:00:00', reason: 'x' },
        /not an ISO 8601 time with a zone/,
      ],
      [{ action: 'revoke', pipeline: 'app', effective: 'now', reason: ' ' }, /reason must be/],
      [{ action: 'rotate', pipeline: 'nope' }, /no pipeline nope/],
    ] as [RotationRequest, RegExp][])('refuses %j without changing anything', async (event, message) => {
      await invoke(null, at('2026-03-02T00:00:00Z'));
      const before = await registry.list();
      const outcome = await invoke(event, at('2026-03-03T00:00:00Z'));
      expect(outcome).toEqual({ refused: expect.stringMatching(message) });
      expect(await registry.list()).toEqual(before);
    });
  });

  it('gives both pipelines a new key when their period is due', async () => {
    const first = linesOf(await invoke(null, at('2026-03-02T00:00:00Z')));
    const later = linesOf(
      await invoke({ source: 'schedule' }, new Date(at('2026-03-02T00:00:00Z').getTime() + 31 * DAY)),
    );
    for (const line of ['pipeline:app', 'pipeline:tools']) {
      expect(later[line]?.activated).toMatch(/^arn:aws:kms:/);
      expect(later[line]?.activated).not.toBe(first[line]?.activated);
    }
  });
});

async function kmsPolicy(keyId: string) {
  const { GetKeyPolicyCommand } = await import('@aws-sdk/client-kms');
  return kms.send(new GetKeyPolicyCommand({ KeyId: keyId }));
}
