import { createHash, randomBytes } from 'node:crypto';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRegistry, keyPartitionKey, RegistryKeyCache } from '#adapters/key-registry.ts';
import { kmsSigner } from '#adapters/kms.ts';
import { KEYS_TABLE } from '#adapters/tables.ts';
import {
  compilePolicy,
  createStatement,
  evaluate,
  type PipelineScope,
  parseAttestationFile,
  signStatement,
} from '#core/index.ts';
import { readRotationConfig, rotationEnvironment } from '../../lambdas/rotate/config.ts';
import { handleRotationRequest, type RequestOutcome } from '../../lambdas/rotate/requests.ts';
import { readVerifierConfig, verifierEnvironment } from '../../lambdas/verify/config.ts';
import { loadConfig, type VouchConfig } from '../../lib/config.ts';
import { PROJECT_ROOT } from '../../lib/function.ts';
import { type KmsServer, startKmsServer } from '../../local/kms/server.ts';
import { ensureTable } from '../../local/stack.ts';
import { startDynamo, TEST_CREDENTIALS, type TestDynamo } from '../helpers/dynamo.ts';

/**
 * Migration (issue 14, item 5): a stack deployed with one signing alias keeps working when it is deployed
 * again with pipelines. Its configuration, read by today's parser, becomes a `default` pipeline whose
 * scope is every object key; its existing key (a registry record from before pipelines: no pipeline,
 * scope or purpose) is that pipeline's key, goes on signing, and is not replaced before its period ends.
 * Splitting it (the README's steps) narrows the old key to the prefixes the default pipeline keeps.
 * The real registry (dynalite), the local KMS server and the rotation function's own code.
 */
const ACCOUNT = '000000000000';
const MANAGER = `arn:aws:iam::${ACCOUNT}:role/Vouch-key-rotation-us-east-1`;
const PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** The `vouch` context of a stack from before pipelines: one repository, one alias. */
const BEFORE = { github: { owner: 'acme', repo: 'app', branches: ['main'], createOidcProvider: false } };
/** The same stack split: the default pipeline keeps the alias and `acme/app/`; `tools` is new. */
const SPLIT = {
  github: { createOidcProvider: false },
  pipelines: [
    {
      name: 'default',
      prefixes: ['acme/app/'],
      github: [{ owner: 'acme', repo: 'app', refs: ['refs/heads/main', 'refs/tags/v*'] }],
    },
    { name: 'tools', prefixes: ['acme/tools/'], github: [{ owner: 'acme', repo: 'tools' }] },
  ],
};

let kmsServer: KmsServer;
let simulated = new Date('2026-03-02T00:00:00Z');
let kms: KMSClient;
let dynamo: TestDynamo;
let registry: KeyRegistry;
const TABLE = 'keys-migration';

beforeAll(async () => {
  kmsServer = await startKmsServer({ clock: () => simulated });
  kms = new KMSClient({ endpoint: kmsServer.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  dynamo = await startDynamo('migration');
  await ensureTable(dynamo.client, KEYS_TABLE, TABLE);
  registry = new KeyRegistry(dynamo.doc, TABLE);
});
afterAll(async () => {
  kms?.destroy();
  await kmsServer?.close();
  await dynamo?.close();
});

const load = (raw: unknown) => loadConfig(raw, { baseDir: PROJECT_ROOT });

/** The rotation function of the stack `config` describes, run as its schedule runs it. */
async function scheduledRotation(config: VouchConfig, now: Date) {
  simulated = now;
  const env = rotationEnvironment({
    keysTable: TABLE,
    rotation: { periodDays: 90, graceDays: 7, retentionDays: 365, deletionWindowDays: 30 },
    managerArn: MANAGER,
    readerArns: [`arn:aws:iam::${ACCOUNT}:role/Vouch-PromoterRole`],
    pipelines: config.pipelines.map((p) => ({
      name: p.name,
      alias: p.alias,
      prefixes: p.prefixes,
      signers: [`arn:aws:iam::${ACCOUNT}:role/uploader-${p.name}`, ...p.signerPrincipalArns],
    })),
  });
  const outcome: RequestOutcome = await handleRotationRequest(
    { kms, registry, lines: readRotationConfig(env).lines, managerArn: MANAGER },
    { source: 'schedule' },
    { getRemainingTimeInMillis: () => 600_000 },
    {
      logger: { info: () => {}, warn: () => {}, error: () => {} },
      retry: { sleep: async () => {}, now: () => 0 },
    },
    () => now,
  );
  if (!('lines' in outcome)) throw new Error(`expected rotation results, got ${JSON.stringify(outcome)}`);
  return outcome.lines as Record<string, { activated?: string; skipped?: string }>;
}

/** Who owns what, as the verifier of the stack `config` describes reads it from its environment. */
function verifierPipelines(config: VouchConfig): readonly PipelineScope[] | undefined {
  return readVerifierConfig(
    verifierEnvironment({
      stagingBucket: 'staging',
      deploymentBucket: 'deployment',
      tables: { records: 'records', index: 'index', keys: TABLE },
      vsaKeyId: 'alias/vouch-vsa',
      pipelines: config.pipelines.map(({ name, alias, prefixes }) => ({ name, alias, prefixes })),
      policyPath: 'policies/default.yaml',
    }),
  ).pipelines;
}

/** The verdict of `{ registry: true }` on an artifact at `path` whose provenance `keyId` signed now. */
async function verdict(config: VouchConfig, path: string, keyId: string) {
  const bytes = randomBytes(256);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const statement = createStatement([{ name: 'app.tar.gz', digests: { sha256 } }], PROVENANCE_V1, {});
  const bundle = await signStatement(statement, kmsSigner(kms, keyId));
  const pipelines = verifierPipelines(config);
  const keys = new RegistryKeyCache(registry, 0, Date.now, pipelines);
  await keys.preload([keyId]);
  const { attestations, errors } = parseAttestationFile(JSON.stringify(bundle), `${path}.sigstore.json`);
  for (const attestation of attestations) attestation.beside = true;
  return evaluate({
    artifact: { path, digests: { sha256 } },
    attestations,
    inputErrors: errors,
    policy: compilePolicy(
      {
        version: 1,
        rules: [
          {
            name: 'all',
            match: ['**'],
            require: [{ type: PROVENANCE_V1, signers: [{ registry: true }] }],
          },
        ],
      },
      'sha256:migration',
    ),
    keys: keys.lookup,
    ...(pipelines ? { pipelines } : {}),
    observedAt: simulated,
  });
}

const aliasTarget = async (alias: string) =>
  (await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata?.Arn;

describe('a stack deployed with one signing alias, deployed again with pipelines', () => {
  let legacyKey: string;

  beforeAll(async () => {
    // The key the stack has: made by the rotation for alias/vouch-signing, then recorded as the code of
    // before pipelines recorded it (no pipeline, scope or purpose: those fields did not exist).
    const created = await scheduledRotation(load(BEFORE), new Date('2026-01-05T00:00:00Z'));
    legacyKey = created['pipeline:default']?.activated as string;
    expect(legacyKey).toMatch(/^arn:aws:kms:/);
    await dynamo.doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: keyPartitionKey(legacyKey), sk: 'KEY' },
        UpdateExpression: 'REMOVE #pipeline, #scope, #purpose',
        ExpressionAttributeNames: { '#pipeline': 'pipeline', '#scope': 'scope', '#purpose': 'purpose' },
      }),
    );
    const record = await registry.get(legacyKey);
    expect(record).toMatchObject({ alias: 'alias/vouch-signing', status: 'active' });
    expect(record?.pipeline).toBeUndefined();
  });

  it('reads the old configuration as a default pipeline on the old alias, every object key in scope', () => {
    expect(verifierPipelines(load(BEFORE))).toEqual([
      { name: 'default', alias: 'alias/vouch-signing', prefixes: [''] },
    ]);
  });

  it('keeps the existing key as the default pipeline’s: not replaced before its period ends, still signing', async () => {
    const run = await scheduledRotation(load(BEFORE), new Date('2026-02-01T00:00:00Z'));
    expect(run['pipeline:default']).toMatchObject({ skipped: 'up-to-date' });
    expect(await aliasTarget('alias/vouch-signing')).toBe(legacyKey);
    const keys = new RegistryKeyCache(registry, 0, Date.now, verifierPipelines(load(BEFORE)));
    await keys.preload([legacyKey]);
    expect(keys.lookup(legacyKey)).toMatchObject({ pipeline: 'default', purpose: 'signing' });
  });

  it('lets the existing key vouch for every object key, as its one alias did', async () => {
    for (const path of ['acme/app/releases/v1/app.tar.gz', 'acme/tools/cli.tar.gz', 'anything/else.bin']) {
      const decision = await verdict(load(BEFORE), path, legacyKey);
      expect({ path, accepted: decision.accepted, reasons: decision.reasons }).toEqual({
        path,
        accepted: true,
        reasons: [],
      });
    }
  });

  describe('split into pipelines', () => {
    let toolsKey: string;

    beforeAll(async () => {
      const run = await scheduledRotation(load(SPLIT), new Date('2026-02-02T00:00:00Z'));
      toolsKey = run['pipeline:tools']?.activated as string;
    });

    it('gives the new pipeline its own key behind its own alias, and leaves the old key on the old alias', async () => {
      expect(toolsKey).toMatch(/^arn:aws:kms:/);
      expect(await aliasTarget('alias/vouch-signing/tools')).toBe(toolsKey);
      expect(await aliasTarget('alias/vouch-signing')).toBe(legacyKey);
      expect(await registry.get(toolsKey)).toMatchObject({ pipeline: 'tools', scope: ['acme/tools/'] });
    });

    it('narrows the old key to the prefixes the default pipeline keeps', async () => {
      expect((await verdict(load(SPLIT), 'acme/app/releases/v2/app.tar.gz', legacyKey)).accepted).toBe(true);
      const outside = await verdict(load(SPLIT), 'acme/tools/cli.tar.gz', legacyKey);
      expect(outside).toMatchObject({ accepted: false, curable: true });
      expect(outside.notes[0]?.message).toMatch(/pipeline tools does/);
      const unowned = await verdict(load(SPLIT), 'anything/else.bin', legacyKey);
      expect(unowned.accepted).toBe(false);
    });

    it("lets the new pipeline's key vouch for its own prefix only", async () => {
      expect((await verdict(load(SPLIT), 'acme/tools/cli.tar.gz', toolsKey)).accepted).toBe(true);
      expect((await verdict(load(SPLIT), 'acme/app/releases/v2/app.tar.gz', toolsKey)).accepted).toBe(false);
    });
  });
});
