import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyRecord, KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';

let dynamo: TestDynamo;
let registry: KeyRegistry;
beforeAll(async () => {
  dynamo = await startDynamo();
  registry = new KeyRegistry(dynamo.doc, dynamo.tables.keys);
});
afterAll(() => dynamo.close());

const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
let n = 0;
const record = (state: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId: `arn:aws:kms:us-east-1:000000000000:key/${++n}`,
  alias: 'alias/vouch-signing',
  keySpec: 'ECC_NIST_P256',
  publicKeyPem: pem,
  status: 'active',
  period: '2026-01-01T00:00:00.000Z',
  validFrom: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
  createdAt: '2026-01-01T00:00:00.000Z',
  ...state,
});

describe('KeyRegistry (dynalite)', () => {
  it('registers a key once and never overwrites it', async () => {
    const key = record();
    expect(await registry.register(key)).toBe(true);
    expect(await registry.register({ ...key, status: 'revoked' })).toBe(false);
    expect((await registry.get(key.keyId))?.status).toBe('active');
  });

  it('lists keys oldest first', async () => {
    const keys = await registry.list();
    const times = keys.map((k) => k.validFrom);
    expect(times).toEqual([...times].sort());
  });

  describe('#retire', () => {
    it('moves active to retiring with a window end, once', async () => {
      const key = record();
      await registry.register(key);
      expect(await registry.retire(key.keyId, '2026-02-01T00:00:00.000Z')).toBe(true);
      expect(await registry.retire(key.keyId, '2026-03-01T00:00:00.000Z')).toBe(false);
      expect(await registry.get(key.keyId)).toMatchObject({
        status: 'retiring',
        validUntil: '2026-02-01T00:00:00.000Z',
      });
    });
  });

  describe('#revoke', () => {
    it('only moves the effective time earlier', async () => {
      const key = record();
      await registry.register(key);
      expect(await registry.revoke(key.keyId, new Date('2026-05-01T00:00:00.000Z'), 'leaked')).toBe(
        'revoked',
      );
      expect(await registry.revoke(key.keyId, new Date('2026-06-01T00:00:00.000Z'), 'later')).toBe(
        'unchanged',
      );
      expect(await registry.revoke(key.keyId, new Date('2026-04-01T00:00:00.000Z'), 'earlier')).toBe(
        'revoked',
      );
      expect(await registry.get(key.keyId)).toMatchObject({
        status: 'revoked',
        revokedAt: '2026-04-01T00:00:00.000Z',
        revocationReason: 'earlier',
      });
    });

    it('says when the key is unknown', async () => {
      expect(
        await registry.revoke(
          'arn:aws:kms:us-east-1:000000000000:key/nope',
          new Date('2026-01-01T00:00:00.000Z'),
          'x',
        ),
      ).toBe('unknown');
    });
  });

  describe('#revoke, times as instants', () => {
    it("ends the key's validity at the effective time, and refuses years past 9999", async () => {
      const key = record();
      await registry.register({ ...key, validUntil: '2030-01-01T00:00:00.000Z' });
      await registry.revoke(key.keyId, new Date('2026-05-01T00:00:00.000Z'), 'leaked');
      expect(await registry.get(key.keyId)).toMatchObject({ validUntil: '2026-05-01T00:00:00.000Z' });
      // +010000-01-01 sorts before 2026-… as a string: it would have replaced the earlier revocation.
      await expect(registry.revoke(key.keyId, new Date('+010000-01-01T00:00:00Z'), 'typo')).rejects.toThrow(
        /0000–9999/,
      );
      expect(await registry.get(key.keyId)).toMatchObject({ revokedAt: '2026-05-01T00:00:00.000Z' });
    });
  });

  describe('#acquireRotationLease (one per alias, for every kind of run)', () => {
    const now = new Date('2026-07-01T00:00:00Z');

    it('lets exactly one of many concurrent runs hold the lease', async () => {
      const owners = Array.from({ length: 8 }, (_, i) => `run-${i}`);
      const leases = await Promise.all(
        owners.map((owner) => registry.acquireRotationLease('alias/a', owner, now, 60_000)),
      );
      expect(leases.filter(Boolean)).toHaveLength(1);
    });

    it('hands a lapsed lease over with the work its holder recorded', async () => {
      const first = await registry.acquireRotationLease('alias/b', 'first', now, 1_000);
      expect(first).toBeDefined();
      expect(await registry.beginLeaseWork('alias/b', 'first', 'P1')).toBe(true);
      await registry.recordLeaseKey('alias/b', 'first', 'arn:key/created-by-first');
      expect(
        await registry.acquireRotationLease('alias/b', 'second', new Date(now.getTime() + 500), 1_000),
      ).toBeUndefined();
      const second = await registry.acquireRotationLease(
        'alias/b',
        'second',
        new Date(now.getTime() + 2_000),
        1_000,
      );
      expect(second).toMatchObject({
        owner: 'second',
        keyId: 'arn:key/created-by-first',
        state: 'creating',
        purpose: 'P1',
      });
      expect(await registry.recordLeaseKey('alias/b', 'first', 'arn:key/other')).toBe(false);
    });

    it('is free again as soon as its holder completes', async () => {
      await registry.acquireRotationLease('alias/c', 'only', now, 60_000);
      await registry.completeLease('alias/c', 'only');
      expect(await registry.acquireRotationLease('alias/c', 'next', now, 60_000)).toMatchObject({
        owner: 'next',
        state: 'done',
      });
    });
  });
});

describe('RegistryKeyCache', () => {
  it('reads each key once per TTL, caches unknown keys, and then serves lookups without I/O', async () => {
    const key = record();
    await registry.register(key);
    let reads = 0;
    let clock = 0;
    const counting = {
      getMany: (ids: readonly string[]) => {
        reads += 1;
        return registry.getMany(ids);
      },
    };
    const cache = new RegistryKeyCache(counting, 30_000, () => clock);
    await cache.preload([key.keyId, 'arn:unknown']);
    await cache.preload([key.keyId, 'arn:unknown']);
    expect(reads).toBe(1);
    expect(cache.lookup(key.keyId)).toMatchObject({ keyId: key.keyId, origin: 'registry', status: 'active' });
    expect(cache.lookup('arn:unknown')).toBeUndefined();
    clock = 30_001;
    await cache.preload([key.keyId]);
    expect(reads).toBe(2);
  });
});
