import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CurrentTrustRoots } from '#adapters/trust-roots.ts';
import { DirectoryTrustStore } from '#adapters/trust-store.ts';
import type { TrustRecord, TrustStore } from '#core/index.ts';
import type { TrustInstance } from '#core/trust-instances.ts';
import { refreshInstance } from '../../../lambdas/trust/refresh.ts';
import { codes, decide, firstSignature, statementAbout } from '../../helpers/decide.ts';
import { keylessBundle, testInstance } from '../../helpers/sigstore/index.ts';
import { TestTufRepository } from '../../helpers/tuf/repository.ts';

const statement = { statement: statementAbout() };
const dir = mkdtempSync(join(tmpdir(), 'vouch-current-roots-'));
/** The instance before and after it opens a new Rekor (v2) shard. */
const before = testInstance({ rekorV2: false });
const after = testInstance();
const pinnedFile = join(dir, 'pinned.trusted_root.json');
writeFileSync(pinnedFile, JSON.stringify(before.trustedRoot));
/** A signature logged in the new shard, timestamped by the instance's TSA. */
const onNewShard = keylessBundle({ content: statement, tlog: { log: 'rekorV2' }, timestamps: [{}] });

const servers: { close(): unknown }[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/**
 * The instance's TUF repository (still without the new shard) served on 127.0.0.1, an empty store the
 * refresher writes, and the verifier's view of it, whose clock the test moves.
 */
async function refresherAndVerifier() {
  const repository = new TestTufRepository(before.trustedRoot);
  const server = await repository.serve();
  servers.push(server);
  const store = new DirectoryTrustStore(mkdtempSync(join(tmpdir(), 'vouch-trust-')));
  const instance: TrustInstance = {
    name: 'public-good',
    mirror: server.url,
    tufRoot: repository.initialRoot,
  };
  const clock = { now: Date.parse('2026-06-02T00:00:00Z') };
  const roots = new CurrentTrustRoots(store, new Map([['public-good', pinnedFile]]), {
    ttlMs: 60_000,
    now: () => new Date(clock.now),
  });
  /** The refresher has verified a rotated root that trusts the new shard (timestamp version 3). */
  const rotate = async () => {
    await refreshInstance(instance, store);
    repository.rotateRoot();
    repository.publishTrustedRoot(after.trustedRoot);
    expect((await refreshInstance(instance, store)).outcome).toBe('updated');
  };
  return { repository, store, instance, clock, roots, rotate };
}

describe('a root rotation and a new log shard reach the verifier without a deploy', () => {
  it('first boot: the pinned root, without the shard: its entry is TLOG_INVALID', async () => {
    const { roots } = await refresherAndVerifier();
    await roots.refresh();
    expect(roots.get('public-good')?.source).toBe('pinned');
    expect(firstSignature(decide(onNewShard, { trustRoot: roots }))?.error?.code).toBe('TLOG_INVALID');
  });

  it('after the refresher verified a rotated root and the shard, the same bundle verifies', async () => {
    const { roots, clock, rotate, store } = await refresherAndVerifier();
    await roots.refresh();
    await rotate();

    // Within the cache's lifetime the verifier still holds what it read: the pinned root.
    clock.now += 30_000;
    await roots.refresh();
    expect(roots.get('public-good')?.source).toBe('pinned');

    clock.now += 60_000;
    await roots.refresh();
    const decision = decide(onNewShard, { trustRoot: roots });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.trustRoot).toMatchObject({
      instance: 'public-good',
      source: 'tuf',
      tuf: { root: 2, timestamp: 3, snapshot: 2, targets: 2 },
      digest: (await store.current('public-good'))?.digest,
    });
  });

  it('a rollback is refused by the refresher, and the verifier keeps the newest root', async () => {
    const { roots, clock, rotate, repository, instance, store } = await refresherAndVerifier();
    await rotate();
    clock.now += 60_000;
    await roots.refresh();
    expect(roots.get('public-good')?.tuf?.timestamp).toBe(3);
    repository.serveOldTimestamp();
    await expect(refreshInstance(instance, store)).rejects.toThrow(
      /timestamp version 2 is less than current version 3/,
    );
    clock.now += 60_000;
    await roots.refresh();
    expect(roots.get('public-good')?.tuf?.timestamp).toBe(3);
    expect(decide(onNewShard, { trustRoot: roots }).accepted).toBe(true);
  });
});

/** A store whose answers the test chooses. */
function scriptedStore(answers: (() => Promise<TrustRecord | undefined>)[]): TrustStore {
  return {
    current: () => (answers.shift() ?? (() => Promise.resolve(undefined)))(),
    save: () => Promise.reject(new Error('read-only')),
    history: () => Promise.resolve([]),
  };
}

describe('CurrentTrustRoots when the store misbehaves', async () => {
  const repository = new TestTufRepository(after.trustedRoot);
  const server = await repository.serve();
  afterAll(() => server.close());
  const store = new DirectoryTrustStore(mkdtempSync(join(tmpdir(), 'vouch-trust-')));
  const instance: TrustInstance = {
    name: 'public-good',
    mirror: server.url,
    tufRoot: repository.initialRoot,
  };
  const first = (await refreshInstance(instance, store)).record;
  repository.publishTimestamp();
  const second = (await refreshInstance(instance, store)).record;
  const pinned = new Map([['public-good', pinnedFile]]);
  const unreachable = () => Promise.reject(new Error('AccessDenied'));

  it('fails the first read (retried by the queue) rather than verify with an older pinned root', async () => {
    const roots = new CurrentTrustRoots(scriptedStore([unreachable]), pinned);
    await expect(roots.refresh()).rejects.toThrow('AccessDenied');
  });

  it('keeps what it holds when a later read fails', async () => {
    const roots = new CurrentTrustRoots(scriptedStore([() => Promise.resolve(second), unreachable]), pinned, {
      ttlMs: 0,
    });
    await roots.refresh();
    await roots.refresh();
    expect(roots.get('public-good')?.tuf?.timestamp).toBe(2);
  });

  it('never goes back to an older record, and says so', async () => {
    const roots = new CurrentTrustRoots(
      scriptedStore([() => Promise.resolve(second), () => Promise.resolve(first)]),
      pinned,
      { ttlMs: 0 },
    );
    await roots.refresh();
    await roots.refresh();
    expect(roots.get('public-good')?.tuf?.timestamp).toBe(2);
    expect(roots.status()[0]?.problem).toMatch(/older version/);
  });

  it('ignores a record whose root does not match its digest', async () => {
    const forged = {
      ...second,
      versions: { ...second.versions, timestamp: 9 },
      trustedRoot: JSON.stringify(before.trustedRoot),
    };
    const roots = new CurrentTrustRoots(scriptedStore([() => Promise.resolve(forged)]), pinned);
    await roots.refresh();
    expect(roots.get('public-good')?.source).toBe('pinned');
    expect(roots.status()[0]?.problem).toMatch(/does not load: .*digest/);
  });

  it('reports its age since the refresher last checked it, which a stale refresher lets grow', async () => {
    let clock = Date.parse(second.checkedAt) + 3 * 86_400_000;
    const roots = new CurrentTrustRoots(scriptedStore([() => Promise.resolve(second)]), pinned, {
      now: () => new Date(clock),
    });
    await roots.refresh();
    expect(roots.status()[0]).toMatchObject({ source: 'tuf', checkedAt: second.checkedAt, ageHours: 72 });
    clock += 86_400_000;
    expect(roots.status()[0]?.ageHours).toBe(96);
    // Stale, it is still the last verified root, and still what verifies.
    expect(codes(decide(keylessBundle({ content: statement }), { trustRoot: roots }))).toEqual([]);
  });
});
