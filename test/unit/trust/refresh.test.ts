import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryTrustStore } from '#adapters/trust-store.ts';
import type { TrustRecord } from '#core/index.ts';
import type { TrustInstance } from '#core/trust-instances.ts';
import { refreshInstance } from '../../../lambdas/trust/refresh.ts';
import { testInstance } from '../../helpers/sigstore/index.ts';
import { TestTufRepository } from '../../helpers/tuf/repository.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A served repository for the test instance's root, a fresh store, and the instance as Vouch configures it. */
async function setUp(trustedRoot: unknown = testInstance().trustedRoot) {
  const repository = new TestTufRepository(trustedRoot);
  const server = await repository.serve();
  servers.push(server);
  const store = new DirectoryTrustStore(mkdtempSync(join(tmpdir(), 'vouch-trust-')));
  const instance: TrustInstance = { name: 'test', mirror: server.url, tufRoot: repository.initialRoot };
  return { repository, server, store, instance, refresh: () => refreshInstance(instance, store) };
}

const versions = (record: TrustRecord | undefined) => record?.versions;

describe('refreshInstance (a TUF repository served on 127.0.0.1)', () => {
  it('verifies and stores the first root from the TUF root shipped with Vouch', async () => {
    const { store, refresh } = await setUp();
    const result = await refresh();
    expect(result.outcome).toBe('updated');
    const stored = await store.current('test');
    expect(versions(stored)).toEqual({ root: 1, timestamp: 1, snapshot: 1, targets: 1 });
    expect(JSON.parse(stored?.trustedRoot ?? '')).toEqual(testInstance().trustedRoot);
    expect(stored?.metadata.timestamp).toContain('"_type":"timestamp"');
    expect(await store.history('test')).toEqual(['root-000001/timestamp-0000000001']);
  });

  it('stores nothing new when the repository has nothing new, but records the check', async () => {
    const { store, refresh } = await setUp();
    const first = await refresh();
    const again = await refresh();
    expect(again.outcome).toBe('unchanged');
    expect(again.record.verifiedAt).toBe(first.record.verifiedAt);
    expect((await store.current('test'))?.checkedAt).toBe(again.record.checkedAt);
    expect(await store.history('test')).toHaveLength(1);
  });

  it('follows a root rotation: the new root is signed by the old keys and the new', async () => {
    const { repository, store, refresh } = await setUp();
    await refresh();
    repository.rotateRoot();
    const result = await refresh();
    expect(result).toMatchObject({ outcome: 'updated', previous: { root: 1, timestamp: 1 } });
    expect(versions(await store.current('test'))).toMatchObject({ root: 2, timestamp: 2 });
    // The stored root.json is the rotated one: the next refresh starts from its keys.
    expect(JSON.parse((await store.current('test'))?.metadata.root ?? '').signed.version).toBe(2);
    repository.publishTimestamp();
    expect((await refresh()).outcome).toBe('updated');
  });

  it('keeps every verified version', async () => {
    const { repository, store, refresh } = await setUp();
    await refresh();
    repository.publishTrustedRoot(testInstance({ rekorV2: false }).trustedRoot);
    await refresh();
    expect(await store.history('test')).toEqual([
      'root-000001/timestamp-0000000001',
      'root-000001/timestamp-0000000002',
    ]);
  });

  describe('refuses, storing nothing, and the last verified root stays current', () => {
    async function refusedAfter(attack: (repository: TestTufRepository) => void, pattern: RegExp) {
      const context = await setUp();
      await context.refresh();
      const before = await context.store.current('test');
      attack(context.repository);
      await expect(context.refresh()).rejects.toThrow(pattern);
      expect(await context.store.current('test')).toEqual(before);
      expect(await context.store.history('test')).toHaveLength(1);
    }

    it('an expired timestamp (a freeze attack)', async () => {
      await refusedAfter((repository) => repository.serveExpiredTimestamp(), /expired/i);
    });

    it('a timestamp older than the one verified before (a rollback)', async () => {
      const context = await setUp();
      context.repository.publishTimestamp();
      await context.refresh();
      const before = await context.store.current('test');
      expect(before?.versions.timestamp).toBe(2);
      context.repository.serveOldTimestamp();
      await expect(context.refresh()).rejects.toThrow(/timestamp version 1 is less than current version 2/);
      expect(await context.store.current('test')).toEqual(before);
    });

    it('a timestamp signed by a key the root does not name', async () => {
      await refusedAfter(
        (repository) => repository.serveTimestampSignedByAnotherKey(),
        /timestamp was signed by 0\/1 keys/,
      );
    });

    it('a trusted_root.json whose bytes are not those the targets metadata signs', async () => {
      await refusedAfter((repository) => repository.serveTamperedTarget(), /hash|length|mismatch/i);
    });

    it('a correctly signed trusted_root.json Vouch would not load (a log key without a validity start)', async () => {
      await refusedAfter(
        (repository) =>
          repository.publishTrustedRoot(testInstance({ rekor: { validFor: { start: null } } }).trustedRoot),
        /tlogs\[0\] has no validFor\.start/,
      );
    });
  });

  it('refuses a first refresh whose TUF root is not the repository’s (nothing to trust it by)', async () => {
    const { instance, store } = await setUp();
    const other = new TestTufRepository(testInstance().trustedRoot);
    await expect(refreshInstance({ ...instance, tufRoot: other.initialRoot }, store)).rejects.toThrow(
      /timestamp was signed by 0\/1 keys/,
    );
    expect(await store.current('test')).toBeUndefined();
  });

  it('refuses to mix repositories: a stored root from another mirror', async () => {
    const { instance, store, refresh } = await setUp();
    await refresh();
    await expect(refreshInstance({ ...instance, mirror: 'http://127.0.0.1:9' }, store)).rejects.toThrow(
      /came from http:\/\/127\.0\.0\.1:\d+, not http:\/\/127\.0\.0\.1:9/,
    );
  });
});
