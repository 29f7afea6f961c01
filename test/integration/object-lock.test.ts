import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObjectVersion, S3Store } from '#adapters/s3-store.ts';
import { TEST_CREDENTIALS } from '../helpers/dynamo.ts';
import { startObjectLockProxy } from '../helpers/object-lock-proxy.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';

const STAGING = 'staging';
const DEPLOYMENT = 'deployment';

let s3: TestS3;
let proxy: Awaited<ReturnType<typeof startObjectLockProxy>>;
let client: S3Client;
let store: S3Store;

beforeAll(async () => {
  s3 = await startS3([STAGING, DEPLOYMENT], STAGING);
  proxy = await startObjectLockProxy(s3.endpoint, DEPLOYMENT);
  // Configured as the verifier's client is (lambdas/adapters/clients.ts): checksums only when required.
  client = new S3Client({
    endpoint: proxy.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  store = new S3Store(client);
});

afterAll(async () => {
  client?.destroy();
  await proxy?.close();
  await s3?.close();
});

async function staged(key: string, bytes: Buffer): Promise<ObjectVersion> {
  await s3.client.send(new PutObjectCommand({ Bucket: STAGING, Key: key, Body: bytes }));
  const version = await store.head(STAGING, key);
  if (!version) throw new Error(`${key} was not staged`);
  return version;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('S3Store writing to a bucket with Object Lock default retention', () => {
  it('is refused, as S3 refuses it, when a write carries no checksum (the emulation is live)', async () => {
    await expect(
      client.send(new PutObjectCommand({ Bucket: DEPLOYMENT, Key: 'bare', Body: 'x' })),
    ).rejects.toThrow(/Content-MD5 OR x-amz-checksum- HTTP header is required/);
  });

  it('writes a VSA with a checksum', async () => {
    const before = proxy.writes.length;
    await store.put(DEPLOYMENT, 'app.tar.gz.vsa.sigstore.json', '{"vsa":true}');
    expect((await store.readSmall(DEPLOYMENT, 'app.tar.gz.vsa.sigstore.json', 1024)).version.size).toBe(12);
    expect(proxy.writes.slice(before).map((w) => w.checksum)).toEqual([true]);
  });

  it('streams a small artifact in one checksummed upload, digesting exactly what it wrote', async () => {
    const bytes = randomBytes(64 * 1024);
    const source = await staged('small.bin', bytes);
    const before = proxy.writes.length;
    const { digests, written } = await store.streamVerified(
      source,
      DEPLOYMENT,
      'releases/small.bin',
      ['sha256'],
      {},
      (d) => d.sha256 === sha256(bytes),
    );
    expect(written).toBe(true);
    expect(digests.sha256).toBe(sha256(bytes));
    expect(proxy.writes.slice(before)).toHaveLength(1);
    expect(proxy.writes.slice(before).every((w) => w.checksum)).toBe(true);
  });

  it('streams a multipart artifact with a checksum on every part', async () => {
    const bytes = randomBytes(17 * 1024 * 1024);
    const source = await staged('large.bin', bytes);
    const before = proxy.writes.length;
    const { digests, written } = await store.streamVerified(
      source,
      DEPLOYMENT,
      'releases/large.bin',
      ['sha256'],
      { 'vouch-digest': 'x' },
      () => true,
    );
    expect(written).toBe(true);
    expect(digests.sha256).toBe(sha256(bytes));
    const parts = proxy.writes.slice(before);
    expect(parts.length).toBe(3);
    expect(parts.every((w) => w.checksum && w.path.includes('partNumber='))).toBe(true);
    const landed = await store.head(DEPLOYMENT, 'releases/large.bin');
    expect(landed?.size).toBe(bytes.length);
    expect(landed?.metadata).toMatchObject({ 'vouch-digest': 'x' });
  });

  it.each([
    ['in one part', 64 * 1024],
    ['in parts', 17 * 1024 * 1024],
  ])(
    'leaves nothing at the key when the streamed bytes are not the ones verified (%s)',
    async (_what, size) => {
      const bytes = randomBytes(size);
      const source = await staged(`changed-${size}.bin`, bytes);
      const { written } = await store.streamVerified(
        source,
        DEPLOYMENT,
        `releases/changed-${size}.bin`,
        ['sha256'],
        {},
        () => false,
      );
      expect(written).toBe(false);
      expect(await store.head(DEPLOYMENT, `releases/changed-${size}.bin`)).toBeUndefined();
    },
  );

  it('copies the exact staged version with a checksummed copy', async () => {
    const source = await staged('versioned.bin', Buffer.from('staged bytes'));
    const before = proxy.writes.length;
    // s3rver keeps no versions: the copy names one as against a versioned bucket, the proxy drops it.
    await store.copyVersion({ ...source, versionId: 'v1' }, DEPLOYMENT, 'releases/versioned.bin', {});
    expect((await store.head(DEPLOYMENT, 'releases/versioned.bin'))?.size).toBe(12);
    expect(proxy.writes.slice(before).map((w) => w.checksum)).toEqual([true]);
  });
});
