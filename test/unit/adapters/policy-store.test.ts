import { describe, expect, it } from 'vitest';
import { CurrentPolicy, type PolicyStore, PolicyVersionExists } from '#adapters/policy-store.ts';
import { loadPolicySyntax, parsePolicy, signPolicyBundle } from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';
import { POLICY_TEXT } from '../../helpers/policy-cases.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const policyKey = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/policy');
const otherKey = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/other');
const BUNDLED = parsePolicy(POLICY_TEXT.replace('releases/**', 'bundled/**'), 'bundled.yaml');
const textFor = (version: number) => POLICY_TEXT.replace('name: releases', `name: v${version}`);

/**
 * Policy bundles by version in memory, as S3PolicyStore keeps them, with `honoursAfter: false` a store
 * that lists every version (to show the loader's own refusal of older ones), and a switch to fail reads.
 */
function memoryStore(options: { honoursAfter?: boolean } = {}) {
  const objects = new Map<number, Buffer>();
  let reads = 0;
  let down = false;
  const store: PolicyStore = {
    async versions(after) {
      if (down) throw new Error('S3 unavailable');
      reads++;
      return [...objects.keys()]
        .filter((v) => options.honoursAfter === false || after === undefined || v > after)
        .sort((a, b) => a - b);
    },
    async read(version) {
      if (down) throw new Error('S3 unavailable');
      return objects.get(version);
    },
    async write(version, content) {
      if (objects.has(version)) throw new PolicyVersionExists(`v${version}`);
      objects.set(version, content);
    },
    describe: (version) => `memory://policy/v${version ?? ''}`,
  };
  return {
    store,
    put: (version: number, content: Buffer | string) => objects.set(version, Buffer.from(content)),
    signed: async (version: number, key = policyKey, signedVersion = version) =>
      objects.set(
        version,
        Buffer.from(JSON.stringify(await signPolicyBundle(textFor(signedVersion), signedVersion, key.sign))),
      ),
    get reads() {
      return reads;
    },
    fail: (value: boolean) => {
      down = value;
    },
  };
}

function loader(store: PolicyStore, clock = { now: new Date('2026-06-01T00:00:00Z') }) {
  return new CurrentPolicy(
    store,
    () => BUNDLED,
    async () => policyKey.publicKey,
    {
      ttlMs: 60_000,
      maxStaleMs: 15 * 60_000,
      now: () => clock.now,
    },
  );
}

describe('CurrentPolicy', () => {
  describe('at first boot', () => {
    it('uses the bundled policy while the store is empty', async () => {
      const s = memoryStore();
      const current = loader(s.store);
      await current.refresh();
      expect(current.current()).toBe(BUNDLED);
      expect(current.status()).toMatchObject({ source: 'bundled' });
    });

    it('refuses to start when the store holds versions and none is validly signed', async () => {
      const s = memoryStore();
      await s.signed(1, otherKey);
      s.put(2, POLICY_TEXT);
      await expect(loader(s.store).refresh()).rejects.toThrow(
        /holds 2 policy version\(s\) and none is validly signed/,
      );
    });

    it('fails (retried) when the store cannot be read: never the bundled policy instead', async () => {
      const s = memoryStore();
      s.fail(true);
      await expect(loader(s.store).refresh()).rejects.toThrow(/S3 unavailable/);
    });
  });

  it('adopts the newest validly signed version, recorded in the policy', async () => {
    const s = memoryStore();
    await s.signed(1);
    await s.signed(2);
    const current = loader(s.store);
    expect(await current.refresh()).toBe(true);
    expect(current.current().version).toBe(2);
    expect(current.current().rules[0]?.name).toBe('v2');
  });

  it('skips newer versions that are unsigned, signed by another key, or signed as another version', async () => {
    const s = memoryStore();
    await s.signed(1);
    await s.signed(2, otherKey);
    s.put(3, POLICY_TEXT);
    await s.signed(4, policyKey, 1);
    const current = loader(s.store);
    await current.refresh();
    expect(current.current().version).toBe(1);
    const refused = current.status().refused.join('\n');
    expect(refused).toMatch(/v2: not signed by the policy key/);
    expect(refused).toMatch(/v3/);
    expect(refused).toMatch(/v4: signed as version 1, stored as 4/);
  });

  it('never goes back: a store listing older versions, or a newer one appearing invalid, keeps what is held', async () => {
    const s = memoryStore({ honoursAfter: false });
    await s.signed(5);
    const clock = { now: new Date('2026-06-01T00:00:00Z') };
    const current = loader(s.store, clock);
    await current.refresh();
    await s.signed(3);
    await s.signed(4, policyKey, 4);
    clock.now = new Date('2026-06-01T00:05:00Z');
    expect(await current.refresh()).toBe(false);
    expect(current.current().version).toBe(5);
  });

  it('picks up a new version once the cache expires, not before', async () => {
    const s = memoryStore();
    await s.signed(1);
    const clock = { now: new Date('2026-06-01T00:00:00Z') };
    const current = loader(s.store, clock);
    await current.refresh();
    await s.signed(2);
    const reads = s.reads;
    expect(await current.refresh()).toBe(false);
    expect(s.reads).toBe(reads);
    clock.now = new Date('2026-06-01T00:01:01Z');
    expect(await current.refresh()).toBe(true);
    expect(current.current().version).toBe(2);
  });

  it('keeps deciding with what it holds while the store is down, for at most the staleness bound', async () => {
    const s = memoryStore();
    await s.signed(1);
    const clock = { now: new Date('2026-06-01T00:00:00Z') };
    const current = loader(s.store, clock);
    await current.refresh();
    s.fail(true);
    clock.now = new Date('2026-06-01T00:10:00Z');
    await expect(current.refresh()).resolves.toBe(false);
    expect(current.current().version).toBe(1);
    clock.now = new Date('2026-06-01T00:16:00Z');
    await expect(current.refresh()).rejects.toThrow(/S3 unavailable/);
  });

  it('leaves the bundled policy as soon as a signed version appears', async () => {
    const s = memoryStore();
    const clock = { now: new Date('2026-06-01T00:00:00Z') };
    const current = loader(s.store, clock);
    await current.refresh();
    await s.signed(1);
    expect(await current.refresh(true)).toBe(true);
    expect(current.status()).toMatchObject({ source: 'store', version: 1, signedBy: policyKey.keyId });
  });
});
