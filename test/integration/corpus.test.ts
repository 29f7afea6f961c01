import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { fetchVerified } from '#adapters/deployer.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import { loadTrustRoot, parsePolicyAsync, type TrustRoot } from '#core/index.ts';
import type { ArtifactRecord } from '#core/lifecycle.ts';
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
  scanPredicate,
  VULNS,
} from '../corpus/context.ts';
import { deliverAll } from '../helpers/deliver.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { FIXTURE_ARTIFACT, FIXTURES_AVAILABLE, readFixture } from '../helpers/fixtures.ts';
import { countPromotions } from '../helpers/gate.ts';
import { verifierHandlers } from '../helpers/handlers.ts';
import { type TestKey, testKey } from '../helpers/keys.ts';
import { countBytesRead } from '../helpers/read-counter.ts';
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
/** The pipeline's VSA key: the deployer's check (`vouch fetch`) verifies summaries against it. */
const vsaKey = testKey();
/** Copies into the deployment bucket, per object key. */
const promotions = new Map<string, number>();
/** Bytes the pipeline read of each staging object. */
let bytesRead = new Map<string, number>();

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
  const store = new S3Store(s3.client);
  bytesRead = countBytesRead(store);
  const deps = countPromotions(promotions)({
    s3: store,
    records,
    index: new AttestationIndex(dynamo.doc, dynamo.tables.index),
    keys: new RegistryKeyCache(registry),
    policy: await parsePolicyAsync(CORPUS_POLICY, 'corpus policy'),
    trustRoot: corpusTrustRoot(),
    vsaSigner: vsaKey.sign,
    stagingBucket: STAGING,
    deploymentBucket: DEPLOYMENT,
    pendingDeadlineSeconds: 3600,
    now: () => new Date(Date.now() + clockOffsetMs),
    // sha512 too: the keyless fixture's subject names its package by sha512 only.
    digestAlgorithms: ['sha256', 'sha512'],
  });
  handlers = verifierHandlers(deps);
});
afterAll(async () => {
  await s3?.close();
  await dynamo?.close();
});

const put = (key: string, body: Buffer | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: body }));

/** Every pending S3 notification through the real handler, one SQS message each (a failure names its object). */
const drain = () => deliverAll(handlers.queue, s3.notifications);

/** What a case's uploads came to, right after they were processed, and once the deadline had passed. */
interface Outcome {
  readonly uploads: CorpusUploads;
  /** Exceptions in the pipeline: there must be none, every event ends in a verdict. */
  readonly problems: string[];
  readonly beforeDeadline: { artifact: ArtifactRecord[]; reasonOn: ArtifactRecord[] };
  afterDeadline?: { artifact: ArtifactRecord[]; reasonOn: ArtifactRecord[] };
}

/** Uploads a case's attestations and lets the pipeline process them, then does the same for the artifact. */
async function runCase(uploads: CorpusUploads): Promise<Outcome> {
  for (const attestation of uploads.attestations ?? []) await put(attestation.key, attestation.body);
  const problems = await drain();
  await put(uploads.artifact.key, uploads.artifact.body);
  problems.push(...(await drain()));
  return { uploads, problems, beforeDeadline: await recordsOf(uploads) };
}

async function recordsOf(uploads: CorpusUploads) {
  const artifact = await records.byKey(uploads.artifact.key);
  return { artifact, reasonOn: uploads.reasonOn ? await records.byKey(uploads.reasonOn) : artifact };
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
/**
 * The reasons an artifact waits on: what more attestations could still satisfy (a scan's finding too,
 * while a VEX statement from an allowed signer could still clear it).
 */
const WAITING: readonly (string | undefined)[] = [
  'MISSING_ATTESTATION',
  'THRESHOLD_NOT_MET',
  'VULNERABILITY_FOUND',
];
/** The first reason of each record: the root cause, as `vouch status` prints it first. */
const firstReasons = (list: readonly ArtifactRecord[]) => list.map((record) => record.reasons[0]?.code);
/** Reasons and notes: what was seen, including junk that never decided and stays on the record. */
const seenCodes = (list: readonly ArtifactRecord[]) =>
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
    name: 'conditioned: provenance from the allowed builder, every condition holding',
    async build() {
      const key = 'conditioned/control/app.bin';
      const body = 'control conditioned';
      const predicate = { ...provenancePredicate(), materials: [{ uri: 'a' }, { uri: 'b' }] };
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(ctx.pipelineKey, 'app.bin', body, { predicate })),
          },
        ],
      };
    },
  },
  {
    name: 'scanned: provenance and a fresh scan with nothing above high',
    async build() {
      const key = 'scanned/control/app.bin';
      const body = 'control scanned';
      const scan = await attest(ctx.pipelineKey, 'app.bin', body, {
        predicateType: VULNS,
        predicate: scanPredicate(['low', 'high', 'medium']),
      });
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(ctx.pipelineKey, 'app.bin', body)) },
          { key: `${key}.scan.intoto.jsonl`, body: json(scan.dsseEnvelope) },
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

describe('attack corpus controls (genuine uploads under the corpus policy)', () => {
  for (const control of CONTROLS) {
    it.skipIf(!runs(control))(
      `promotes ${control.name} once, and the deployer's own check accepts it`,
      async () => {
        const uploads = await control.build();
        const { problems, beforeDeadline } = await runCase(uploads);
        expect(problems).toEqual([]);
        const key = uploads.artifact.key;
        expect(
          beforeDeadline.artifact.map((r) => r.status),
          JSON.stringify(beforeDeadline.artifact[0]?.reasons),
        ).toEqual(['promoted']);
        expect(promotions.get(key), 'copies into the deployment bucket').toBe(1);
        // What `vouch fetch` checks: the bytes, and a VSA by the pipeline's key naming exactly them.
        const dir = mkdtempSync(join(tmpdir(), 'vouch-corpus-'));
        const fetched = await fetchVerified({
          store: new S3Store(s3.client),
          bucket: DEPLOYMENT,
          key,
          output: join(dir, 'artifact'),
          vsaPublicKey: vsaKey.publicKey,
        });
        expect(fetched.ok, JSON.stringify([...fetched.decision.reasons, ...fetched.problems])).toBe(true);
        expect(fetched.verificationResult).toBe('PASSED');
        expect(readFileSync(join(dir, 'artifact')).equals(Buffer.from(uploads.artifact.body))).toBe(true);
      },
    );
  }
});

describe('attack corpus (s3rver + dynalite, real handler)', () => {
  /** Each case's outcome (or the error building or uploading it), run once for all the tests below. */
  const outcomes = new Map<string, Outcome | Error>();
  let deployedBefore: string[] = [];
  let deployedAfter: string[] = [];

  beforeAll(async () => {
    deployedBefore = await listDeployment();
    // Cases run one after another, each with bytes no other case uploads (the index is content-addressed).
    for (const attack of CORPUS.filter(runs)) {
      try {
        outcomes.set(attack.name, await runCase(await attack.build(ctx)));
      } catch (error) {
        outcomes.set(attack.name, error as Error);
      }
    }
    // The scheduled sweep, with the clock two hours ahead: past every pending artifact's deadline.
    clockOffsetMs = 2 * 3600 * 1000;
    try {
      await handlers.sweep();
    } finally {
      clockOffsetMs = 0;
    }
    for (const outcome of outcomes.values())
      if (!(outcome instanceof Error)) outcome.afterDeadline = await recordsOf(outcome.uploads);
    deployedAfter = await listDeployment();
  });

  it('has unique case names, each with a description', () => {
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
    for (const attack of CORPUS) expect(attack.description.length).toBeGreaterThan(20);
  });

  for (const attack of CORPUS) {
    it.skipIf(!runs(attack))(
      `${attack.name}: rejected ${attack.settles} with ${attack.expectedReason}`,
      async () => {
        const outcome = outcomes.get(attack.name);
        if (outcome === undefined || outcome instanceof Error) throw outcome ?? new Error('did not run');
        const { uploads, problems, beforeDeadline } = outcome;
        const after = outcome.afterDeadline as NonNullable<Outcome['afterDeadline']>;
        const seen = JSON.stringify({
          beforeDeadline: summary(beforeDeadline),
          afterDeadline: summary(after),
        });

        // No exception anywhere in the pipeline: every upload's event ended in a verdict.
        expect(problems, seen).toEqual([]);
        expect(beforeDeadline.artifact.length, seen).toBeGreaterThan(0);
        expect(beforeDeadline.reasonOn.length, seen).toBeGreaterThan(0);
        if (attack.settles === 'at-once') {
          // Rejected as its uploads were processed, for the expected reason (a verdict, not a note).
          expect(statuses(beforeDeadline.artifact), seen).toEqual(
            beforeDeadline.artifact.map(() => 'rejected'),
          );
          expect(statuses(beforeDeadline.reasonOn), seen).toEqual(
            beforeDeadline.reasonOn.map(() => 'rejected'),
          );
          expect(firstReasons(beforeDeadline.reasonOn), seen).toEqual(
            beforeDeadline.reasonOn.map(() => attack.expectedReason),
          );
        } else {
          // Junk never decides: the artifact waits, with what was seen on its record (or on the refused
          // file's own) for `vouch status` to show, and is rejected only once its deadline has passed.
          expect(statuses(beforeDeadline.artifact), seen).toEqual(
            beforeDeadline.artifact.map(() => 'pending'),
          );
          expect(seenCodes(beforeDeadline.artifact), seen).toContain(attack.expectedReason);
          expect(seenCodes(beforeDeadline.reasonOn), seen).toContain(attack.expectedReason);
          expect(statuses(after.artifact), seen).toEqual(after.artifact.map(() => 'rejected'));
          // What it waited for is what rejects it: more attestations could have satisfied it, none came.
          expect(
            firstReasons(beforeDeadline.artifact).every((code) => WAITING.includes(code)),
            seen,
          ).toBe(true);
          expect(firstReasons(after.artifact), seen).toEqual(firstReasons(beforeDeadline.artifact));
          expect(seenCodes(after.artifact), seen).toContain(attack.expectedReason);
          expect(seenCodes(after.reasonOn), seen).toContain(attack.expectedReason);
        }
        // Every recorded version of the object under attack ends rejected, whatever the deadline.
        expect(statuses(after.artifact), seen).toEqual(after.artifact.map(() => 'rejected'));
        // Nothing for the artifact (nor the names it imitates) reached the deployment bucket.
        expect(await listDeployment(uploads.artifact.key)).toEqual([]);
        for (const imitated of uploads.neverPromotedAs ?? [])
          expect(await listDeployment(imitated)).toEqual([]);
        for (const key of uploads.unread ?? []) expect(bytesRead.get(key), `bytes of ${key} read`).toBe(0);
      },
    );
  }

  it('lets nothing through: zero false accepts across the corpus', () => {
    const ran = CORPUS.filter(runs);
    expect([...outcomes.keys()].sort()).toEqual(ran.map((attack) => attack.name).sort());
    const notRejected = ran.flatMap((attack) => {
      const outcome = outcomes.get(attack.name);
      if (outcome === undefined || outcome instanceof Error) return [`${attack.name}: ${outcome}`];
      const list = outcome.afterDeadline?.artifact ?? [];
      return list.length === 0 || list.some((record) => record.status !== 'rejected')
        ? [`${attack.name}: ${statuses(list)}`]
        : [];
    });
    expect(notRejected).toEqual([]);
    // The whole corpus added nothing to the deployment bucket.
    expect(deployedAfter.filter((key) => !deployedBefore.includes(key))).toEqual([]);
  });
});

const summary = ({ artifact, reasonOn }: { artifact: ArtifactRecord[]; reasonOn: ArtifactRecord[] }) => ({
  artifact: artifact.map((r) => ({ status: r.status, reasons: r.reasons, notes: r.notes })),
  ...(reasonOn !== artifact
    ? { reasonOn: reasonOn.map((r) => ({ status: r.status, reasons: r.reasons })) }
    : {}),
});
