import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DirectoryTrustStore, S3TrustStore, TrustStoreConflict } from '#adapters/trust-store.ts';
import type { TrustRecord, TrustStore, TufVersions } from '#core/index.ts';
import { testInstance } from '../../helpers/sigstore/index.ts';

const trustedRoot = JSON.stringify(testInstance().trustedRoot);
const record = (timestamp: number, checkedAt = '2026-06-01T00:00:00.000Z'): TrustRecord => {
  const versions: TufVersions = { root: 1, timestamp, snapshot: 1, targets: 1 };
  return {
    instance: 'public-good',
    mirror: 'https://tuf.test',
    trustedRoot,
    digest: `sha256:${createHash('sha256').update(trustedRoot).digest('hex')}`,
    metadata: { root: '{}', timestamp: '{}', snapshot: '{}', targets: '{}' },
    versions,
    verifiedAt: checkedAt,
    checkedAt,
  };
};

/** S3's conditional writes (If-None-Match: *, If-Match: ETag), in memory: s3rver ignores both. */
function conditionalS3() {
  const objects = new Map<string, { body: string; eTag: string }>();
  let writes = 0;
  const preconditionFailed = () =>
    Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
  const send = async (command: unknown) => {
    if (command instanceof GetObjectCommand) {
      const object = objects.get(command.input.Key as string);
      if (!object) throw Object.assign(new Error('missing'), { name: 'NoSuchKey' });
      return { ETag: object.eTag, Body: { transformToString: async () => object.body } };
    }
    if (command instanceof PutObjectCommand) {
      const { Key, Body, IfMatch, IfNoneMatch } = command.input;
      const existing = objects.get(Key as string);
      if (IfNoneMatch === '*' && existing) throw preconditionFailed();
      if (IfMatch !== undefined && existing?.eTag !== IfMatch) throw preconditionFailed();
      const eTag = `"${++writes}"`;
      objects.set(Key as string, { body: String(Body), eTag });
      return { ETag: eTag };
    }
    if (command instanceof ListObjectsV2Command) {
      const prefix = command.input.Prefix ?? '';
      return { Contents: [...objects.keys()].filter((k) => k.startsWith(prefix)).map((Key) => ({ Key })) };
    }
    throw new Error('unexpected command');
  };
  return { client: { send } as unknown as S3Client, objects };
}

describe.each([
  [
    'S3TrustStore (conditional writes)',
    () => {
      const { client } = conditionalS3();
      return () => new S3TrustStore(client, 'trust', 'trust-roots/');
    },
  ],
  [
    'DirectoryTrustStore',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'vouch-store-'));
      return () => new DirectoryTrustStore(dir);
    },
  ],
] as [string, () => () => TrustStore][])('%s', (_name, makeStores) => {
  it('keeps every version and makes the newest current', async () => {
    const open = makeStores();
    const store = open();
    expect(await store.current('public-good')).toBeUndefined();
    await store.save(record(1), undefined);
    await store.save(record(2), (await store.current('public-good')) as TrustRecord);
    expect((await store.current('public-good'))?.versions.timestamp).toBe(2);
    expect(await store.history('public-good')).toEqual([
      'root-000001/timestamp-0000000001',
      'root-000001/timestamp-0000000002',
    ]);
  });

  it('refuses to overwrite what another refresh stored since it read', async () => {
    const open = makeStores();
    const [first, second] = [open(), open()];
    await first.save(record(1), undefined);
    const seenByBoth = (await first.current('public-good')) as TrustRecord;
    expect(await second.current('public-good')).toEqual(seenByBoth);
    await first.save(record(3), seenByBoth);
    // The second refresh started from version 1 too; it must not put its (older) version 2 over 3.
    await expect(second.save(record(2), seenByBoth)).rejects.toThrow(TrustStoreConflict);
    expect((await open().current('public-good'))?.versions.timestamp).toBe(3);
  });

  it('refuses a first save when another refresh stored the first version meanwhile', async () => {
    const open = makeStores();
    await open().save(record(1), undefined);
    await expect(open().save(record(1, '2026-06-02T00:00:00.000Z'), undefined)).rejects.toThrow(
      TrustStoreConflict,
    );
  });
});

describe('S3TrustStore layout', () => {
  it('writes INSTANCE/current.json and INSTANCE/versions/root-R/timestamp-T.json under its prefix', async () => {
    const { client, objects } = conditionalS3();
    await new S3TrustStore(client, 'trust', 'trust-roots/').save(record(7), undefined);
    expect([...objects.keys()].sort()).toEqual([
      'trust-roots/public-good/current.json',
      'trust-roots/public-good/versions/root-000001/timestamp-0000000007.json',
    ]);
  });
});
