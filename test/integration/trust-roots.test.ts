import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import { CurrentTrustRoots } from '#adapters/trust-roots.ts';
import { DirectoryTrustStore } from '#adapters/trust-store.ts';
import { loadPolicySyntax, parsePolicy, type TrustStore } from '#core/index.ts';
import { refreshInstance } from '../../lambdas/trust/refresh.ts';
import { createQueueHandler } from '../../lambdas/verify/handler.ts';
import { verifierFor } from '../../lambdas/verify/wiring.ts';
import { sqsRecord } from '../../local/queue.ts';
import { IDENTITY, ISSUER, statementAbout } from '../helpers/decide.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { testKey } from '../helpers/keys.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { keylessBundle, testInstance } from '../helpers/sigstore/index.ts';
import { TestTufRepository } from '../helpers/tuf/repository.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

// The verifier handler with roots the trust refresher keeps: what verified a signature reaches the record
// and the VSA; a store it cannot read at a cold start fails the batch (retried), never verifies with less.

const STAGING = 'vouch-trust-staging';
const DEPLOYMENT = 'vouch-trust-deployment';
const POLICY = parsePolicy(`
version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require: [{ type: https://slsa.dev/provenance/v1, signers: [{ issuer: "${ISSUER}", identity: ${IDENTITY} }] }]
`);

let dynamo: TestDynamo;
let s3: TestS3;
let records: RecordStore;
const dir = mkdtempSync(join(tmpdir(), 'vouch-trust-int-'));
const pinned = join(dir, 'pinned.json');
// Pinned in the build: the instance before its Rekor v2 shard. Through TUF: with it.
writeFileSync(pinned, JSON.stringify(testInstance({ rekorV2: false }).trustedRoot));

beforeAll(async () => {
  dynamo = await startDynamo('trust');
  s3 = await startS3([STAGING, DEPLOYMENT], STAGING);
  records = new RecordStore(dynamo.doc, dynamo.tables.records);
});
afterAll(async () => {
  await s3?.close();
  await dynamo?.close();
});

const handlerWith = (store: TrustStore) => {
  const { pipeline, prepare } = verifierFor({
    s3: new S3Store(s3.client),
    records,
    index: new AttestationIndex(dynamo.doc, dynamo.tables.index),
    keys: new RegistryKeyCache(new KeyRegistry(dynamo.doc, dynamo.tables.keys), 60_000),
    policy: POLICY,
    trustRoot: new CurrentTrustRoots(store, new Map([['public-good', pinned]])),
    vsaSigner: testKey().sign,
    stagingBucket: STAGING,
    deploymentBucket: DEPLOYMENT,
    pendingDeadlineSeconds: 3600,
  });
  return createQueueHandler(pipeline, undefined, prepare);
};

async function deliver(handler: ReturnType<typeof handlerWith>) {
  const event: SQSEvent = {
    Records: s3.notifications.splice(0).map((body, i) => sqsRecord(body, `trust-${Date.now()}-${i}`)),
  };
  return handler(event, {} as Context);
}

const put = (key: string, body: string) =>
  s3.client.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: body }));

describe('the verifier with refreshed trust roots', () => {
  it('promotes a signature logged in a shard only the refreshed root lists, recording that root', async () => {
    const repository = new TestTufRepository(testInstance().trustedRoot);
    const server = await repository.serve();
    const store = new DirectoryTrustStore(join(dir, 'store'));
    try {
      await refreshInstance(
        { name: 'public-good', mirror: server.url, tufRoot: repository.initialRoot },
        store,
      );
    } finally {
      await server.close();
    }
    const handler = handlerWith(store);
    const bytes = 'vouch test artifact: app.tar.gz\n';
    const bundle = keylessBundle({
      content: { statement: statementAbout(Buffer.from(bytes)) },
      tlog: { log: 'rekorV2' },
    });
    await put('releases/app.tar.gz.sigstore.json', JSON.stringify(bundle));
    await put('releases/app.tar.gz', bytes);
    expect(await deliver(handler)).toEqual({ batchItemFailures: [] });
    const [record] = await records.byKey('releases/app.tar.gz');
    expect(record?.status).toBe('promoted');
    expect(record?.trustRoots).toEqual([
      {
        instance: 'public-good',
        source: 'tuf',
        tuf: { root: 1, timestamp: 1, snapshot: 1, targets: 1 },
        verifiedAt: expect.any(String),
        digest: (await store.current('public-good'))?.digest,
      },
    ]);
  });

  it('fails the whole batch when the store cannot be read at a cold start (redelivered, not judged)', async () => {
    const unreadable: TrustStore = {
      current: () => Promise.reject(new Error('AccessDenied: trust bucket')),
      save: () => Promise.reject(new Error('read-only')),
      history: () => Promise.resolve([]),
    };
    await put('releases/other.tar.gz', 'other');
    await expect(deliver(handlerWith(unreadable))).rejects.toThrow('AccessDenied: trust bucket');
    expect(await records.byKey('releases/other.tar.gz')).toEqual([]);
  });
});
