import { readFileSync } from 'node:fs';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import { loadTrustRoot, parsePolicy, parseS3Notification, type TrustRoot } from '#core/index.ts';
import type { ArtifactRecord } from '#core/lifecycle.ts';
import { sqsRecord } from '../../local/queue.ts';
import { CORPUS } from '../corpus/cases.ts';
import {
  attest,
  BUILDER,
  CORPUS_POLICY,
  type CorpusContext,
  type CorpusUploads,
  json,
  KEY_ARN_PREFIX,
  keylessAttest,
  PIPELINE_KEY_ID,
  provenancePredicate,
  SECOND_KEY_ID,
} from '../corpus/context.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { FIXTURE_ARTIFACT, FIXTURES_AVAILABLE, readFixture } from '../helpers/fixtures.ts';
import { verifierHandlers } from '../helpers/handlers.ts';
import { type TestKey, testKey } from '../helpers/keys.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { testInstance } from '../helpers/sigstore/index.ts';

const STAGING = 'vouch-staging';
const DEPLOYMENT = 'vouch-deployment';

let dynamo: TestDynamo;
let s3: TestS3;
let records: RecordStore;
let handlers: ReturnType<typeof verifierHandlers>;
let ctx: CorpusContext;
/** Moves the pipeline's clock (only the sweep uses it), to take a waiting artifact past its deadline. */
let clockOffsetMs = 0;

/** Each key under its own alias: keys of one alias are one signer, and the 2-of-2 rule needs two. */
async function register(registry: KeyRegistry, key: TestKey): Promise<TestKey> {
  await registry.register({
    keyId: key.keyId,
    alias: `alias/vouch-signing/${key.keyId.split('/').pop()}`,
    keySpec: 'ECC_NIST_P256',
    publicKeyPem: key.publicKeyPem,
    status: 'active',
    period: '2020-01-01T00:00:00.000Z',
    validFrom: '2020-01-01T00:00:00.000Z',
    createdAt: '2020-01-01T00:00:00.000Z',
  });
  return key;
}

/**
 * The public-good root (for the real keyless fixtures) and the test instance's (for self-made keyless
 * bundles), as one trusted root with both instances' authorities.
 */
function corpusTrustRoot(): TrustRoot {
  const publicGood = loadTrustRoot();
  const instance = testInstance().trustRoot;
  return {
    certificateAuthorities: [...publicGood.certificateAuthorities, ...instance.certificateAuthorities],
    timestampAuthorities: [...publicGood.timestampAuthorities, ...instance.timestampAuthorities],
    tlogs: [...publicGood.tlogs, ...instance.tlogs],
    ctlogs: [...publicGood.ctlogs, ...instance.ctlogs],
  };
}

/** Cases and controls that upload ../shared/fixtures run only where it is. */
const runs = (item: { readsFixtures?: boolean }) => FIXTURES_AVAILABLE || !item.readsFixtures;

beforeAll(async () => {
  dynamo = await startDynamo('corpus');
  s3 = await startS3([STAGING, DEPLOYMENT], STAGING);
  records = new RecordStore(dynamo.doc, dynamo.tables.records);
  const registry = new KeyRegistry(dynamo.doc, dynamo.tables.keys);
  ctx = {
    pipelineKey: await register(registry, testKey('p256', PIPELINE_KEY_ID)),
    secondKey: await register(registry, testKey('p256', SECOND_KEY_ID)),
    registry,
    registerKey: (name) => register(registry, testKey('p256', `${KEY_ARN_PREFIX}${name}`)),
  };
  handlers = verifierHandlers({
    s3: new S3Store(s3.client),
    records,
    index: new AttestationIndex(dynamo.doc, dynamo.tables.index),
    keys: new RegistryKeyCache(registry),
    policy: parsePolicy(CORPUS_POLICY, 'corpus policy'),
    trustRoot: corpusTrustRoot(),
    vsaSigner: testKey().sign,
    stagingBucket: STAGING,
    deploymentBucket: DEPLOYMENT,
    pendingDeadlineSeconds: 3600,
    now: () => new Date(Date.now() + clockOffsetMs),
    // sha512 too: the keyless fixture's subject names its package by sha512 only.
    digestAlgorithms: ['sha256', 'sha512'],
  });
});
afterAll(async () => {
  await s3?.close();
  await dynamo?.close();
});

const put = (key: string, body: Buffer | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: body }));
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

let messages = 0;

/**
 * Delivers every pending S3 notification through the real handler, one SQS message per batch so that a
 * failure names its object. Returns what went wrong: a batch item failure is an exception in the
 * pipeline (SQS would redeliver it until it lands in the DLQ), never a verdict.
 */
async function drain(): Promise<string[]> {
  const problems: string[] = [];
  await pause();
  while (s3.notifications.length > 0) {
    const body = s3.notifications.shift() as string;
    const keys = parseS3Notification(body).map((event) => event.key.slice(0, 80));
    const event: SQSEvent = { Records: [sqsRecord(body, `corpus-${++messages}`)] };
    try {
      const response = (await handlers.queue(event, {} as Context)) as SQSBatchResponse;
      if (response.batchItemFailures.length > 0) problems.push(`${keys}: batch item failure`);
    } catch (error) {
      // A batch whose every message failed: Powertools throws, carrying the pipeline's errors.
      const causes = ((error as { recordErrors?: Error[] }).recordErrors ?? [error as Error]).map(
        (e) => `${e.name}: ${e.message}`,
      );
      problems.push(`${keys}: ${causes.join('; ')}`);
    }
    await pause();
  }
  return problems;
}

/**
 * Uploads a case's attestations, lets the pipeline process them, then does the same for the artifact.
 * Returns the artifact's statuses then, before any sweep, and after a sweep run with the clock two hours
 * ahead (past the deadline), as the scheduled sweep would in production.
 */
async function upload(uploads: CorpusUploads): Promise<{ problems: string[]; before: string[] }> {
  for (const attestation of uploads.attestations ?? []) await put(attestation.key, attestation.body);
  const problems = await drain();
  await put(uploads.artifact.key, uploads.artifact.body);
  problems.push(...(await drain()));
  const before = statuses(await records.byKey(uploads.artifact.key));
  if (before.includes('pending')) {
    clockOffsetMs = 2 * 3600 * 1000;
    try {
      await handlers.sweep();
    } finally {
      clockOffsetMs = 0;
    }
  }
  return { problems, before };
}

async function listDeployment(prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.client.send(
      new ListObjectsV2Command({ Bucket: DEPLOYMENT, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : [])));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

const statuses = (list: readonly ArtifactRecord[]) => list.map((record) => record.status);
/** Reason codes of the records, and of their notes: junk that never decided is still on the record. */
const codes = (list: readonly ArtifactRecord[]) =>
  list.flatMap((record) => [...record.reasons, ...(record.notes ?? [])].map((r) => r.code));

/** Genuine uploads, one per policy rule, all promoted: every rule can pass, so a rejection is the attack's. */
const CONTROLS: { name: string; readsFixtures?: boolean; build(): Promise<CorpusUploads> }[] = [
  {
    name: 'releases: provenance signed by a registry key',
    async build() {
      const key = 'releases/control/app.bin';
      const body = 'control release';
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(ctx.pipelineKey, 'app.bin', body)) },
        ],
      };
    },
  },
  {
    name: 'builds: provenance from the allowed builder',
    async build() {
      const key = 'builds/control/app.bin';
      const body = 'control build';
      const bundle = await attest(ctx.pipelineKey, 'app.bin', body, {
        predicate: provenancePredicate(`${BUILDER}@refs/tags/v2.1.0`),
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'dual: two distinct signers of two',
    async build() {
      const key = 'dual/control/app.bin';
      const body = 'control dual';
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(ctx.pipelineKey, 'app.bin', body)) },
          {
            key: `${key}.dsse.json`,
            body: json((await attest(ctx.secondKey, 'app.bin', body)).dsseEnvelope),
          },
        ],
      };
    },
  },
  {
    name: 'sources: provenance of a build of the allowed repository',
    async build() {
      const key = 'sources/control/app.bin';
      const body = 'control source';
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(ctx.pipelineKey, 'app.bin', body)) },
        ],
      };
    },
  },
  {
    name: 'pinned: a bare envelope with no keyid, under a rule that names the key',
    async build() {
      const key = 'pinned/control/app.bin';
      const body = 'control pinned';
      const { dsseEnvelope } = await attest(ctx.pipelineKey, 'app.bin', body);
      const envelope = { ...dsseEnvelope, signatures: dsseEnvelope.signatures.map(({ sig }) => ({ sig })) };
      return { artifact: { key, body }, attestations: [{ key: `${key}.dsse.json`, body: json(envelope) }] };
    },
  },
  {
    name: 'releases: a JSON Lines collection beside it, one line for it among lines for others',
    async build() {
      const key = 'releases/control/collection.bin';
      const body = 'control collection';
      const line = async (name: string, bytes: string) =>
        json((await attest(ctx.pipelineKey, name, bytes)).dsseEnvelope);
      const lines = [
        await line('other-1.bin', 'other 1'),
        await line('collection.bin', body),
        await line('other-2.bin', 'other 2'),
      ];
      return {
        artifact: { key, body },
        attestations: [{ key: `${key}.intoto.jsonl`, body: `${lines.join('\n')}\n` }],
      };
    },
  },
  {
    name: 'releases: its provenance beside it, among 100 junk attestations naming its digest',
    async build() {
      const key = 'releases/control/flooded.bin';
      const body = 'control flooded';
      const flood = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => ({
          key: `flood/control/${String(i).padStart(3, '0')}.sigstore.json`,
          body: json(
            await attest(testKey('p256', `${KEY_ARN_PREFIX}control-flood-${i}`), 'flooded.bin', body),
          ),
        })),
      );
      return {
        artifact: { key, body },
        attestations: [
          ...flood,
          { key: `${key}.sigstore.json`, body: json(await attest(ctx.pipelineKey, 'flooded.bin', body)) },
        ],
      };
    },
  },
  {
    name: 'npm: the real keyless bundle for its own identity and issuer',
    readsFixtures: true,
    async build() {
      const key = 'npm/sigstore-1.0.0.tgz';
      return {
        artifact: { key, body: readFileSync(FIXTURE_ARTIFACT) },
        attestations: [{ key: `${key}.sigstore`, body: readFixture('bundleV03-dsse.sigstore') }],
      };
    },
  },
  {
    name: 'npm: a keyless bundle of the test instance for the same identity and issuer',
    async build() {
      const key = 'npm/test-instance/app.tgz';
      const body = 'control keyless';
      return {
        artifact: { key, body },
        attestations: [{ key: `${key}.sigstore.json`, body: json(keylessAttest(body)) }],
      };
    },
  },
];
const controlKeys: string[] = [];

describe('attack corpus controls (genuine uploads under the corpus policy)', () => {
  for (const control of CONTROLS) {
    it.skipIf(!runs(control))(`promotes ${control.name}`, async () => {
      const uploads = await control.build();
      controlKeys.push(uploads.artifact.key);
      const { problems, before } = await upload(uploads);
      expect(problems).toEqual([]);
      expect(before).toEqual(['promoted']);
      const list = await records.byKey(uploads.artifact.key);
      expect(statuses(list), JSON.stringify(list[0]?.reasons)).toEqual(['promoted']);
      expect(await listDeployment(uploads.artifact.key)).toContain(uploads.artifact.key);
    });
  }
});

/** What each case uploaded, for the corpus-wide check at the end. */
const results = new Map<string, CorpusUploads>();

describe('attack corpus (s3rver + dynalite, real handler)', () => {
  it('has unique case names, each with a description', () => {
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
    for (const attack of CORPUS) expect(attack.description.length).toBeGreaterThan(20);
  });

  for (const attack of CORPUS) {
    it.skipIf(!runs(attack))(
      `${attack.name}: rejected ${attack.settles} with ${attack.expectedReason}`,
      async () => {
        const uploads = await attack.build(ctx);
        const { problems, before } = await upload(uploads);
        results.set(attack.name, uploads);

        const artifactRecords = await records.byKey(uploads.artifact.key);
        const reasonRecords = uploads.reasonOn ? await records.byKey(uploads.reasonOn) : artifactRecords;
        const seen = JSON.stringify({
          artifact: artifactRecords.map((r) => ({ status: r.status, reasons: r.reasons })),
          ...(uploads.reasonOn
            ? { reasonOn: reasonRecords.map((r) => ({ status: r.status, reasons: r.reasons })) }
            : {}),
        });

        // No exception anywhere in the pipeline: every upload's event ended in a verdict.
        expect(problems, seen).toEqual([]);
        // Settled when the case says: at once, or only once the deadline passed (junk never decides).
        expect(before, seen).toEqual(
          before.map(() => (attack.settles === 'at-once' ? 'rejected' : 'pending')),
        );
        // A decision was recorded for the object under attack, and every recorded version is a rejection.
        expect(artifactRecords.length, seen).toBeGreaterThan(0);
        expect(statuses(artifactRecords), seen).toEqual(artifactRecords.map(() => 'rejected'));
        // The expected reason is among the recorded reasons (on the refused attestation, where it says so).
        expect(reasonRecords.length, seen).toBeGreaterThan(0);
        expect(statuses(reasonRecords), seen).toEqual(reasonRecords.map(() => 'rejected'));
        expect(codes(reasonRecords), seen).toContain(attack.expectedReason);
        // Nothing for the artifact (nor the names it imitates) reached the deployment bucket.
        expect(await listDeployment(uploads.artifact.key)).toEqual([]);
        for (const imitated of uploads.neverPromotedAs ?? [])
          expect(await listDeployment(imitated)).toEqual([]);
      },
    );
  }

  it('lets nothing through: zero false accepts across the corpus', async () => {
    const ran = CORPUS.filter(runs);
    expect([...results.keys()].sort()).toEqual(ran.map((attack) => attack.name).sort());
    const verdicts = await Promise.all(
      ran.map(async (attack) => {
        const uploads = results.get(attack.name);
        const list = uploads ? await records.byKey(uploads.artifact.key) : [];
        return { name: attack.name, statuses: statuses(list) };
      }),
    );
    // Every case's artifact has a recorded decision, and every recorded version of it is a rejection.
    const notRejected = verdicts.filter(
      (v) => v.statuses.length === 0 || v.statuses.some((s) => s !== 'rejected'),
    );
    expect(notRejected).toEqual([]);
    // The deployment bucket holds the controls' objects and nothing else.
    expect(controlKeys).toHaveLength(CONTROLS.filter(runs).length);
    const deployed = await listDeployment();
    expect(deployed.filter((key) => !controlKeys.some((control) => key.startsWith(control)))).toEqual([]);
  });
});
