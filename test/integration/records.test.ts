import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordStore } from '#adapters/records.ts';
import type { ArtifactRecord, ArtifactStatus } from '#core/index.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { MemoryRecords } from '../helpers/fakes.ts';

// The record store on dynalite: how records are stored, the deployment claim without a settlement
// write, the sweep's due entries, the scans a revocation re-check makes. The slot's rules run against the
// in-memory fake as well, which the pipeline's unit tests use: the two must agree.

let dynamo: TestDynamo;
let store: RecordStore;
beforeAll(async () => {
  dynamo = await startDynamo('records');
  store = new RecordStore(dynamo.doc, dynamo.tables.records);
});
afterAll(async () => dynamo?.close());

let counter = 0;
const record = (overrides: Partial<ArtifactRecord> = {}): ArtifactRecord => {
  const at = '2026-11-26T00:00:00.000Z';
  counter++;
  return {
    objectKey: `releases/app-${counter}.tgz`,
    version: `v${counter}`,
    bucket: 'vouch-staging',
    size: 3,
    digest: `sha256:${'a'.repeat(63)}${counter % 10}`,
    digests: { sha256: `${'a'.repeat(63)}${counter % 10}` },
    status: 'verified',
    reasons: [],
    notes: [],
    mode: 'enforce',
    flagged: false,
    rules: ['releases'],
    keyIds: ['arn:aws:kms:us-east-1:000000000000:key/k1'],
    identities: [],
    policyDigest: 'sha256:policy',
    uploadedAt: at,
    sequencer: '0001',
    createdAt: at,
    updatedAt: at,
    history: [{ status: 'verified', at }],
    ...overrides,
  };
};

describe('RecordStore', () => {
  describe('#create and #get', () => {
    it('gives back the record as created, whatever the item leaves out', async () => {
      const created = record({ notes: [], reasons: [] });
      expect(await store.create(created)).toBe(true);
      expect(await store.get(created.objectKey, created.version)).toEqual(created);
      // A duplicate event finds it there.
      expect(await store.create(created)).toBe(false);
    });

    it('stores what the keys already say only once: a record of a short key stays under 1 KB', async () => {
      const created = record();
      await store.create(created, { owner: 'message-1', until: '2026-11-26T00:15:00.000Z' });
      const { Item } = await dynamo.doc.send(
        new GetCommand({
          TableName: dynamo.tables.records,
          Key: { pk: `OBJ#${created.objectKey}`, sk: `V#${created.version}` },
        }),
      );
      expect(Item).toMatchObject({ gsi3pk: `DIGEST#${created.digest}`, promotionOwner: 'message-1' });
      for (const field of ['objectKey', 'version', 'digest', 'createdAt', 'gsi1pk', 'gsi2pk'])
        expect(Item, field).not.toHaveProperty(field);
      expect(Buffer.byteLength(JSON.stringify(Item))).toBeLessThan(1024);
    });

    it('reads records written before, which carried every field and the status index', async () => {
      const legacy = record({ status: 'pending' });
      await dynamo.doc.send(
        new PutCommand({
          TableName: dynamo.tables.records,
          Item: {
            pk: `OBJ#${legacy.objectKey}`,
            sk: `V#${legacy.version}`,
            gsi1pk: `DIGEST#${legacy.digest}`,
            gsi1sk: legacy.createdAt,
            gsi2pk: 'STATUS#pending',
            gsi2sk: `${legacy.createdAt}#x`,
            ...legacy,
          },
        }),
      );
      expect(await store.get(legacy.objectKey, legacy.version)).toEqual(legacy);
      expect((await store.byLegacyStatus('pending')).map((r) => r.objectKey)).toContain(legacy.objectKey);
      expect((await store.byDigest(legacy.digest)).map((r) => r.objectKey)).toContain(legacy.objectKey);
      // Once it moves, it leaves the status index (which would go on saying pending).
      await store.transition(legacy.objectKey, legacy.version, 'rejected', { updatedAt: legacy.createdAt });
      expect((await store.byLegacyStatus('pending')).map((r) => r.objectKey)).not.toContain(legacy.objectKey);
    });
  });

  describe('#byDigest', () => {
    it('finds every version with these bytes through the digest index', async () => {
      const digest = `sha256:${'d'.repeat(64)}`;
      const a = record({ digest, digests: { sha256: 'd'.repeat(64) } });
      const b = record({ digest, digests: { sha256: 'd'.repeat(64) } });
      await store.create(a);
      await store.create(b);
      expect((await store.byDigest(digest)).map((r) => r.objectKey).sort()).toEqual(
        [a.objectKey, b.objectKey].sort(),
      );
    });
  });

  describe('#byKeyId', () => {
    it('finds the records in these statuses that a key vouched for, and no others', async () => {
      const keyId = 'arn:aws:kms:us-east-1:000000000000:key/revoked-one';
      const promoted = record({ status: 'promoted', keyIds: [keyId] });
      const rejected = record({ status: 'rejected', keyIds: [keyId] });
      const other = record({ status: 'promoted' });
      for (const r of [promoted, rejected, other]) await store.create(r);
      const found = await store.byKeyId(keyId, ['verified', 'promoted']);
      expect(found.map((r) => r.objectKey)).toEqual([promoted.objectKey]);
    });
  });

  describe('due entries', () => {
    it('returns what is due by a time, from every shard, until cleared', async () => {
      const early = record();
      const late = record();
      await store.markDue(early.objectKey, early.version, '2026-11-26T01:00:00.000Z');
      await store.markDue(late.objectKey, late.version, '2026-11-26T03:00:00.000Z');
      const due = await store.dueBefore('2026-11-26T02:00:00.000Z');
      expect(due).toContainEqual({
        objectKey: early.objectKey,
        version: early.version,
        due: '2026-11-26T01:00:00.000Z',
      });
      expect(due.map((e) => e.objectKey)).not.toContain(late.objectKey);
      await store.clearDue({
        objectKey: early.objectKey,
        version: early.version,
        due: '2026-11-26T01:00:00.000Z',
      });
      expect((await store.dueBefore('2026-11-26T02:00:00.000Z')).map((e) => e.objectKey)).not.toContain(
        early.objectKey,
      );
    });

    it('lists pending records through their due entries', async () => {
      const pending = record({ status: 'pending', deadline: '2026-11-26T01:00:00.000Z' });
      await store.create(pending);
      await store.markDue(pending.objectKey, pending.version, '2026-11-26T01:00:00.000Z');
      expect((await store.byStatus('pending')).map((r) => r.objectKey)).toContain(pending.objectKey);
    });
  });
});

/** The deployment claim, the same rules on dynalite and in the fake. */
describe.each([
  ['RecordStore on dynalite', () => new RecordStore(dynamo.doc, dynamo.tables.records)],
  ['MemoryRecords (the unit tests’ fake)', () => new MemoryRecords()],
])('#claimDeployment — %s', (_name, make) => {
  const at = '2026-11-26T00:00:00.000Z';
  const later = '2026-11-26T00:20:00.000Z';
  const until = '2026-11-26T00:15:00.000Z';
  let key = 0;
  /** One object key with versions v1 (older) … v3 (newer), each recorded in `status`. */
  async function slot(statuses: Partial<Record<'v1' | 'v2' | 'v3', ArtifactStatus>>) {
    const records = make();
    const objectKey = `releases/slot-${++key}-${Math.random()}.tgz`;
    for (const [version, status] of Object.entries(statuses))
      await records.create(record({ objectKey, version, status, sequencer: version.replace('v', '000') }));
    const claim = (version: string, now = at) =>
      records.claimDeployment(objectKey, { version, sequencer: version.replace('v', '000'), at: now, until });
    const move = (version: string, to: ArtifactStatus) =>
      records.transition(objectKey, version, to, { updatedAt: at });
    return { claim, move };
  }

  it('claims a key nobody claimed', async () => {
    const { claim } = await slot({ v1: 'verified' });
    expect(await claim('v1')).toBe('claimed');
  });

  it('lets the next version claim as soon as the previous one is recorded promoted', async () => {
    const { claim, move } = await slot({ v1: 'verified', v2: 'verified' });
    expect(await claim('v1')).toBe('claimed');
    expect(await claim('v2')).toBe('busy');
    await move('v1', 'promoted');
    expect(await claim('v2')).toBe('claimed');
  });

  it('never lets an older version follow a newer one promoted there', async () => {
    const { claim, move } = await slot({ v1: 'verified', v2: 'verified', v3: 'verified' });
    expect(await claim('v3')).toBe('claimed');
    await move('v3', 'promoted');
    expect(await claim('v2')).toBe('superseded');
    // Nor once another claim came between (the settlement was written with it).
    expect(await claim('v1')).toBe('superseded');
  });

  it('lets an older version follow a newer one that was rejected (never promoted there)', async () => {
    const { claim, move } = await slot({ v1: 'verified', v2: 'verified' });
    expect(await claim('v2')).toBe('claimed');
    await move('v2', 'rejected');
    expect(await claim('v1')).toBe('claimed');
  });

  it('holds a quarantined promotion (a pull may be under way) until its claim lapses, and counts it', async () => {
    const { claim, move } = await slot({ v1: 'verified', v2: 'verified' });
    expect(await claim('v2')).toBe('claimed');
    await move('v2', 'quarantined');
    expect(await claim('v1')).toBe('superseded');
    const fresh = await slot({ v2: 'verified', v3: 'verified' });
    expect(await fresh.claim('v2')).toBe('claimed');
    await fresh.move('v2', 'quarantined');
    expect(await fresh.claim('v3')).toBe('busy');
    expect(await fresh.claim('v3', later)).toBe('claimed');
  });

  it('lets a claim whose promotion was abandoned lapse, then claims over it', async () => {
    const { claim } = await slot({ v1: 'verified', v2: 'verified' });
    expect(await claim('v1')).toBe('claimed');
    expect(await claim('v2')).toBe('busy');
    expect(await claim('v2', later)).toBe('claimed');
  });

  it('lets a version take its own claim again (a redelivery)', async () => {
    const { claim } = await slot({ v1: 'verified' });
    expect(await claim('v1')).toBe('claimed');
    expect(await claim('v1')).toBe('claimed');
  });
});
