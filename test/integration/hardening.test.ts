import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ATTESTATION_INDEX_ACTIONS, AttestationIndex } from '#adapters/attestation-index.ts';
import { fetchVerified } from '#adapters/deployer.ts';
import { KEY_REGISTRY_READ_ACTIONS, KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { RECORD_STORE_ACTIONS, RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import {
  attestationCopyProblems,
  createStatement,
  loadPolicySyntax,
  loadTrustRoot,
  parseAttestationFile,
  parsePolicy,
  readSummaryFile,
  signStatement,
  summaryEntryFor,
  VSA_PREDICATE_TYPE,
  vsaKey,
} from '#core/index.ts';
import type { PipelineDeps } from '../../lambdas/verify/pipeline.ts';
import { deliverAll } from '../helpers/deliver.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { verifierHandlers } from '../helpers/handlers.ts';
import { type TestKey, testKey } from '../helpers/keys.ts';
import { MemoryS3 } from '../helpers/memory-s3.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { keyedBundle, testInstance } from '../helpers/sigstore/index.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

// Regressions for the security review of 2026-11-26, through the real handler on s3rver and dynalite
// (and, where only a versioned bucket shows the fault, on an S3 that keeps versions).

const STAGING = 'vouch-staging';
const DEPLOYMENT = 'vouch-deployment';
const PROVENANCE = 'https://slsa.dev/provenance/v1';
const POLICY = parsePolicy(`
version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require: [{ type: ${PROVENANCE}, signers: [{ registry: true }] }]
`);

let dynamo: TestDynamo;
let s3: TestS3;
let records: RecordStore;
let registry: KeyRegistry;
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);

beforeAll(async () => {
  dynamo = await startDynamo('hardening');
  s3 = await startS3([STAGING, DEPLOYMENT], STAGING);
  records = new RecordStore(dynamo.doc, dynamo.tables.records);
  registry = new KeyRegistry(dynamo.doc, dynamo.tables.keys);
});
afterAll(async () => {
  await s3?.close();
  await dynamo?.close();
});
beforeEach(() => {
  clockOffsetMs = 0;
});

let keys = 0;
/** A fresh registry key, active since 2020. */
async function registeredKey(): Promise<TestKey> {
  const key = testKey('p256', `arn:aws:kms:us-east-1:000000000000:key/hardening-${++keys}`);
  await registry.register({
    keyId: key.keyId,
    alias: 'alias/vouch-signing',
    keySpec: 'ECC_NIST_P256',
    publicKeyPem: key.publicKeyPem,
    status: 'active',
    period: '2020-01-01T00:00:00.000Z',
    validFrom: '2020-01-01T00:00:00.000Z',
    createdAt: '2020-01-01T00:00:00.000Z',
  });
  return key;
}

function deps(overrides: Partial<PipelineDeps> = {}): PipelineDeps {
  return {
    s3: new S3Store(s3.client),
    records,
    index: new AttestationIndex(dynamo.doc, dynamo.tables.index),
    keys: new RegistryKeyCache(registry, 60_000),
    policy: POLICY,
    trustRoot: loadTrustRoot(),
    vsaSigner: testKey().sign,
    stagingBucket: STAGING,
    deploymentBucket: DEPLOYMENT,
    pendingDeadlineSeconds: 3600,
    now,
    ...overrides,
  };
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const put = (key: string, body: Buffer | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: body }));

async function provenance(key: TestKey, name: string, bytes: string) {
  const statement = createStatement([{ name, digests: { sha256: sha256(bytes) } }], PROVENANCE, {
    runDetails: { builder: { id: 'https://ci.example/builder' } },
  });
  return JSON.stringify(await signStatement(statement, key.sign));
}

type Handler = ReturnType<typeof verifierHandlers>;

/** Delivers pending S3 notifications one message at a time; returns what failed, naming the objects. */
const drain = (handler: Handler, notifications: string[] = s3.notifications) =>
  deliverAll(handler.queue, notifications);

const latest = async (key: string) => (await records.byKey(key))[0];
const deployed = (key: string) => new S3Store(s3.client).head(DEPLOYMENT, key);

describe('key hints are untrusted input', () => {
  it('records an attestation whose 5,000-character hint would fail a DynamoDB lookup; the message does not fail', async () => {
    const handler = verifierHandlers(deps());
    const signer = await registeredKey();
    const bytes = 'hostile hint bytes';
    const bundle = JSON.parse(await provenance(signer, 'hint.bin', bytes));
    bundle.verificationMaterial.publicKey.hint = `arn:aws:kms:us-east-1:000000000000:key/${'k'.repeat(5000)}`;
    await put('releases/hint.bin.sigstore.json', JSON.stringify(bundle));
    await put('releases/hint.bin', bytes);
    expect(await drain(handler)).toEqual([]);
    const record = await latest('releases/hint.bin');
    expect(record?.status).toBe('pending');
    expect(record?.notes?.map((r) => r.code)).toContain('UNKNOWN_KEY');
  });
});

describe('one record never stops the others', () => {
  /** Fails every read of the index for one digest: a record whose re-evaluation always throws. */
  const poisoned =
    (poison: string) =>
    (base: PipelineDeps): PipelineDeps => {
      const index = base.index;
      return {
        ...base,
        index: Object.assign(Object.create(index), {
          attestationsFor: async (digests: readonly string[], max?: number) => {
            if (digests.includes(`sha256:${sha256(poison)}`)) throw new Error('injected fault');
            return index.attestationsFor(digests, max);
          },
        }),
      };
    };

  it('sweeps every expired pending artifact even when one of them fails', async () => {
    const handler = verifierHandlers(deps());
    await put('releases/sweep-a.bin', 'sweep a');
    expect(await drain(handler)).toEqual([]);
    await put('releases/sweep-poison.bin', 'sweep poison');
    expect(await drain(handler)).toEqual([]);
    // The sweep sees the newest record first: the poisoned one.
    const sweeping = verifierHandlers(poisoned('sweep poison')(deps()));
    clockOffsetMs = 2 * 3600 * 1000;
    await expect(sweeping.sweep()).rejects.toThrow(/injected fault/);
    expect((await latest('releases/sweep-a.bin'))?.status).toBe('rejected');
    expect((await latest('releases/sweep-a.bin'))?.reasons.map((r) => r.code)).toEqual([
      'MISSING_ATTESTATION',
    ]);
    expect((await latest('releases/sweep-poison.bin'))?.status).toBe('pending');
  });

  it('re-checks every artifact of a revoked key even when one of them fails, and leaves none promoted', async () => {
    const signer = await registeredKey();
    const handler = verifierHandlers(deps());
    for (const name of ['recheck-a', 'recheck-poison']) {
      await put(`releases/${name}.bin.sigstore.json`, await provenance(signer, `${name}.bin`, name));
      await put(`releases/${name}.bin`, name);
      expect(await drain(handler)).toEqual([]);
      expect((await latest(`releases/${name}.bin`))?.status).toBe('promoted');
    }
    await registry.revoke(signer.keyId, new Date('2020-06-01T00:00:00.000Z'), 'test');
    const checking = verifierHandlers(poisoned('recheck-poison')(deps()));
    const stream = {
      Records: [
        {
          eventSource: 'aws:dynamodb',
          eventID: '1',
          dynamodb: {
            NewImage: { keyId: { S: signer.keyId }, revokedAt: { S: '2020-06-01T00:00:00.000Z' } },
            OldImage: { keyId: { S: signer.keyId } },
          },
        },
      ],
    };
    // The batch fails, to be retried for the poisoned artifact; the other was re-checked and pulled.
    await expect(checking.stream(stream as never, {} as Context)).rejects.toThrow();
    expect((await latest('releases/recheck-a.bin'))?.status).toBe('quarantined');
    expect((await latest('releases/recheck-a.bin'))?.reasons.map((r) => r.code)).toEqual([
      'KEY_REVOKED',
      'MISSING_ATTESTATION',
    ]);
    expect(await deployed('releases/recheck-a.bin')).toBeUndefined();
  });
});

describe('trusted time of an attestation', () => {
  it('is when S3 finished storing it (the event time), not a LastModified dated from the start of a multipart upload', async () => {
    const signer = await registeredKey();
    const revokedAt = new Date(Date.now() - 3600_000);
    await registry.revoke(signer.keyId, revokedAt, 'leaked');
    // S3 may date an object uploaded in parts by when its upload was initiated: before the revocation.
    const initiated = new Date(revokedAt.getTime() - 86_400_000);
    const base = deps();
    const store = base.s3;
    const handler = verifierHandlers({
      ...base,
      s3: Object.assign(Object.create(store), {
        readSmall: async (...args: Parameters<S3Store['readSmall']>) => {
          const read = await store.readSmall(...args);
          return { ...read, version: { ...read.version, lastModified: initiated } };
        },
      }),
    });
    await put('releases/multipart.bin.sigstore.json', await provenance(signer, 'multipart.bin', 'multipart'));
    await put('releases/multipart.bin', 'multipart');
    expect(await drain(handler)).toEqual([]);
    const record = await latest('releases/multipart.bin');
    expect(record?.status).toBe('pending');
    expect(record?.notes?.map((r) => r.code)).toContain('KEY_REVOKED');
    expect(await deployed('releases/multipart.bin')).toBeUndefined();
  });
});

describe('a backdated log entry and the revocation re-check', () => {
  it('pulls an artifact whose only entry (a proof, no promise) claims a time before the revocation', async () => {
    const signer = await registeredKey();
    const handler = verifierHandlers(deps({ trustRoot: testInstance().trustRoot }));
    const bytes = 'backdated';
    const statement = createStatement(
      [{ name: 'backdated.bin', digests: { sha256: sha256(bytes) } }],
      PROVENANCE,
      {},
    );
    const bundle = await keyedBundle({
      key: signer,
      content: { statement },
      tlog: { proof: true, promise: false, integratedTime: new Date('2020-06-01T00:00:00Z') },
    });
    await put('releases/backdated.bin.sigstore.json', JSON.stringify(bundle));
    await put('releases/backdated.bin', bytes);
    expect(await drain(handler)).toEqual([]);
    expect((await latest('releases/backdated.bin'))?.status).toBe('promoted');
    // Revoked effective an hour ago: after the time the entry claims, before the upload.
    const effective = new Date(Date.now() - 3600_000).toISOString();
    await registry.revoke(signer.keyId, new Date(effective), 'leaked');
    const stream = {
      Records: [
        {
          eventSource: 'aws:dynamodb',
          eventID: '2',
          dynamodb: {
            NewImage: { keyId: { S: signer.keyId }, revokedAt: { S: effective } },
            OldImage: { keyId: { S: signer.keyId } },
          },
        },
      ],
    };
    await handler.stream(stream as never, {} as Context);
    expect((await latest('releases/backdated.bin'))?.status).toBe('quarantined');
    expect((await latest('releases/backdated.bin'))?.reasons.map((r) => r.code)).toEqual([
      'KEY_REVOKED',
      'MISSING_ATTESTATION',
    ]);
    expect(await deployed('releases/backdated.bin')).toBeUndefined();
  });
});

describe('a revocation and an audit-mode artifact', () => {
  it('re-issues its summary FAILED and flags its record, so deployers refuse it without --allow-audit', async () => {
    const signer = await registeredKey();
    const policy = parsePolicy(`
version: 1
rules:
  - name: trial
    match: ["trial/**"]
    mode: audit
    require: [{ type: ${PROVENANCE}, signers: [{ registry: true }] }]
`);
    const vsaKeyPair = testKey();
    const handler = verifierHandlers(deps({ policy, vsaSigner: vsaKeyPair.sign }));
    await put('trial/app.bin.sigstore.json', await provenance(signer, 'app.bin', 'trial app'));
    await put('trial/app.bin', 'trial app');
    expect(await drain(handler)).toEqual([]);
    expect(await latest('trial/app.bin')).toMatchObject({ status: 'promoted', flagged: false });

    const effective = new Date(Date.now() - 3600_000).toISOString();
    await registry.revoke(signer.keyId, new Date(effective), 'leaked');
    const stream = {
      Records: [
        {
          eventSource: 'aws:dynamodb',
          eventID: '3',
          dynamodb: {
            NewImage: { keyId: { S: signer.keyId }, revokedAt: { S: effective } },
            OldImage: { keyId: { S: signer.keyId } },
          },
        },
      ],
    };
    await handler.stream(stream as never, {} as Context);
    const record = await latest('trial/app.bin');
    expect(record).toMatchObject({ status: 'promoted', flagged: true });
    expect(record?.reasons[0]?.code).toBe('KEY_REVOKED');

    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'vouch-hardening-'));
    const fetch = (allowAudit: boolean) =>
      fetchVerified({
        store: new S3Store(s3.client),
        bucket: DEPLOYMENT,
        key: 'trial/app.bin',
        output: join(dir, `out-${allowAudit}`),
        vsaPublicKey: vsaKeyPair.publicKey,
        allowAudit,
      });
    const refused = await fetch(false);
    expect(refused.ok).toBe(false);
    expect(refused.problems.map((p) => p.code)).toEqual(['VERIFICATION_FAILED']);
    expect((await fetch(true)).ok).toBe(true);
  });
});

describe('a revocation and a warm key cache', () => {
  it('stops the promotion of what a cached, since revoked, key vouched for', async () => {
    const signer = await registeredKey();
    // One warm verifier, whose cache keeps keys for a minute.
    const handler = verifierHandlers(deps());
    await put('releases/warm-a.bin.sigstore.json', await provenance(signer, 'warm-a.bin', 'warm a'));
    await put('releases/warm-a.bin', 'warm a');
    expect(await drain(handler)).toEqual([]);
    expect((await latest('releases/warm-a.bin'))?.status).toBe('promoted');
    // Revoked, effective a minute ago; the re-check has not run, and the cache still holds the key.
    await registry.revoke(signer.keyId, new Date(Date.now() - 60_000), 'leaked');
    await put('releases/warm-b.bin.sigstore.json', await provenance(signer, 'warm-b.bin', 'warm b'));
    await put('releases/warm-b.bin', 'warm b');
    expect(await drain(handler)).toEqual([]);
    const record = await latest('releases/warm-b.bin');
    expect(record?.status).toBe('rejected');
    expect(record?.reasons.map((r) => r.code)).toContain('KEY_REVOKED');
    expect(await deployed('releases/warm-b.bin')).toBeUndefined();
  });
});

describe('what a promotion writes', () => {
  it('lists in the VSA only the attestations the promotion rests on, and carries a copy of each', async () => {
    const signer = await registeredKey();
    const handler = verifierHandlers(deps());
    const bytes = 'vsa inputs';
    const junk = await provenance(
      testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/junk'),
      'inputs.bin',
      bytes,
    );
    await put('elsewhere/inputs.bin.sigstore.json', junk);
    // Two genuine attestations with one file name, in two folders: each is listed and copied.
    const genuine = [
      await provenance(signer, 'inputs.bin', bytes),
      await provenance(signer, 'inputs.bin', bytes),
    ];
    await put('releases/a/att.sigstore.json', genuine[0] as string);
    await put('releases/b/att.sigstore.json', genuine[1] as string);
    await put('releases/inputs.bin', bytes);
    expect(await drain(handler)).toEqual([]);
    expect((await latest('releases/inputs.bin'))?.status).toBe('promoted');

    const store = new S3Store(s3.client);
    const vsa = await store.readSmall(DEPLOYMENT, vsaKey('releases/inputs.bin'), 1 << 20);
    if (!('content' in vsa)) throw new Error('no VSA');
    const file = readSummaryFile(vsa.content, 'vsa');
    const [summary] = parseAttestationFile(file.envelope, 'vsa').attestations;
    if (summary?.kind !== 'statement') throw new Error('no statement');
    expect(summary.statement.predicateType).toBe(VSA_PREDICATE_TYPE);
    const entry = summaryEntryFor(summary.statement, 'releases/inputs.bin');
    const inputs = entry?.inputAttestations as { digest: { sha256: string } }[];
    expect(inputs.map((i) => i.digest.sha256).sort()).toEqual(genuine.map((g) => sha256(g)).sort());
    expect(file.attestations.map((copy) => Buffer.from(copy.content, 'base64').toString()).sort()).toEqual(
      [...genuine].sort(),
    );
    expect(attestationCopyProblems(summary.statement, 'releases/inputs.bin', file.attestations)).toEqual([]);
    // Nothing else is written beside it: the copies travel inside the summary.
    expect(
      await store.head(DEPLOYMENT, `releases/inputs.bin.attestations/${sha256(junk)}.json`),
    ).toBeUndefined();
  });
});
describe('rollback, on a versioned staging bucket', () => {
  it('never promotes an older upload verified late over a newer promoted version', async () => {
    const signer = await registeredKey();
    const store = new MemoryS3();
    const handler = verifierHandlers(deps({ s3: store }));
    const notifications: string[] = [];
    const upload = (key: string, body: string) =>
      notifications.push(store.upload(STAGING, key, body).notification);

    upload('releases/rollback.bin', 'version 1'); // its provenance is late
    expect(await drain(handler, notifications)).toEqual([]);
    upload('late/rollback-v2.sigstore.json', await provenance(signer, 'rollback.bin', 'version 2'));
    upload('releases/rollback.bin', 'version 2');
    expect(await drain(handler, notifications)).toEqual([]);
    expect(store.latest(DEPLOYMENT, 'releases/rollback.bin')?.toString()).toBe('version 2');

    upload('late/rollback-v1.sigstore.json', await provenance(signer, 'rollback.bin', 'version 1'));
    expect(await drain(handler, notifications)).toEqual([]);
    const byVersion = await records.byKey('releases/rollback.bin');
    const v1 = byVersion.find((r) => r.digest === `sha256:${sha256('version 1')}`);
    expect(v1?.status).toBe('rejected');
    expect(v1?.reasons.map((r) => r.code)).toEqual(['SUPERSEDED']);
    expect(store.latest(DEPLOYMENT, 'releases/rollback.bin')?.toString()).toBe('version 2');
    // The versioned path copies exactly the version verified, on the condition that it is unchanged.
    const copies = store.requests.filter((r) => r.op === 'copyVersion');
    expect(copies).toEqual([
      expect.objectContaining({
        key: 'releases/rollback.bin',
        versionId: expect.any(String),
        ifMatch: expect.any(String),
      }),
    ]);
    expect(
      store
        .versions(STAGING, 'releases/rollback.bin')
        .find((v) => v.versionId === copies[0]?.versionId)
        ?.body.toString(),
    ).toBe('version 2');
  });
});

describe('the grants the stack gives the verifier', () => {
  it('cover every DynamoDB action the verifier performs (its flows here, and every test above that ran)', async () => {
    // The flows the verifier's role must be able to run, whatever else ran first: index, promote, wait,
    // sweep, re-check a revocation.
    const handler = verifierHandlers(deps());
    const signer = await registeredKey();
    await put('releases/grants.bin.sigstore.json', await provenance(signer, 'grants.bin', 'grants'));
    await put('releases/grants.bin', 'grants');
    await put('releases/grants-pending.bin', 'grants, waiting');
    expect(await drain(handler)).toEqual([]);
    expect((await latest('releases/grants.bin'))?.status).toBe('promoted');
    clockOffsetMs = 2 * 3600 * 1000;
    await handler.sweep();
    expect((await latest('releases/grants-pending.bin'))?.status).toBe('rejected');
    await registry.revoke(signer.keyId, new Date(0), 'grants');
    await handler.pipeline.recheckKey(signer.keyId);
    expect((await latest('releases/grants.bin'))?.status).toBe('quarantined');

    const granted: Record<string, readonly string[]> = {
      [dynamo.tables.records]: RECORD_STORE_ACTIONS,
      [dynamo.tables.index]: ATTESTATION_INDEX_ACTIONS,
      [dynamo.tables.keys]: KEY_REGISTRY_READ_ACTIONS,
    };
    // Not the verifier's doing: the helper creating the tables, and this file registering and revoking
    // keys (as the rotation function and `vouch keys` do, with their own grants).
    const notTheVerifier = (table: string, action: string) =>
      ['CreateTable', 'DescribeTable'].includes(action) ||
      (table === dynamo.tables.keys && ['PutItem', 'UpdateItem', 'GetItem'].includes(action));
    for (const [table, actions] of dynamo.actions) {
      const used = [...actions].filter((action) => !notTheVerifier(table, action));
      expect(
        used.filter((action) => !(granted[table] ?? []).includes(action)),
        table,
      ).toEqual([]);
    }
    expect(dynamo.actions.get(dynamo.tables.index)).toContain('BatchWriteItem');
  });
});
