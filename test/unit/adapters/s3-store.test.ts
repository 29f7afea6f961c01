import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { MAX_CONCURRENT_STREAMS, S3_COPY_LIMITS, S3Store, WRITE_CHECKSUM } from '#adapters/s3-store.ts';
import type { ObjectVersion } from '#core/index.ts';
import { RecordingS3Client } from '../../helpers/recording-s3-client.ts';

// The requests S3Store sends to S3, as the SDK would serialize them: the path a versioned staging bucket
// takes in AWS, which the local S3 (s3rver, unversioned) never exercises.

const STAGING = 'staging';
const DEPLOYMENT = 'deployment';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The version S3Store was told it digested, as the pipeline hands it over. */
function digested(s3: RecordingS3Client, key: string, versionId: string): ObjectVersion {
  const version = s3.versions(STAGING, key).find((v) => v.versionId === versionId);
  if (!version) throw new Error(`no version ${versionId} of ${key}`);
  return {
    bucket: STAGING,
    key,
    versionId,
    eTag: version.eTag,
    size: version.body.length,
    lastModified: new Date(),
  };
}

describe('S3Store', () => {
  describe('#copyVersion', () => {
    describe('when the key was overwritten after the version was digested', () => {
      it('copies the version digested, named by its ID and on its ETag, not the newer one', async () => {
        const s3 = new RecordingS3Client();
        const { versionId } = s3.upload(STAGING, 'releases/app.tgz', 'verified bytes');
        s3.upload(STAGING, 'releases/app.tgz', 'a backdoor, uploaded later');
        const source = digested(s3, 'releases/app.tgz', versionId);

        await new S3Store(s3.asClient()).copyVersion(source, DEPLOYMENT, 'releases/app.tgz', {
          'vouch-digest': 'sha256:abc',
        });

        expect(s3.latest(DEPLOYMENT, 'releases/app.tgz')?.body.toString()).toBe('verified bytes');
        expect(s3.sent).toEqual([
          {
            name: 'CopyObjectCommand',
            input: {
              Bucket: DEPLOYMENT,
              Key: 'releases/app.tgz',
              CopySource: `${STAGING}/releases/app.tgz?versionId=${versionId}`,
              CopySourceIfMatch: source.eTag,
              ChecksumAlgorithm: WRITE_CHECKSUM,
              MetadataDirective: 'REPLACE',
              Metadata: { 'vouch-digest': 'sha256:abc' },
              TaggingDirective: 'REPLACE',
            },
          },
        ]);
      });
    });

    describe('when the key holds characters that mean something in a URL', () => {
      it.each([
        'releases/app?versionId=attacker.tgz',
        'releases/a b+c&d=e#f%20.tgz',
        'releases/über/ünïcödé.tgz',
      ])('names exactly the version digested for %s', async (key) => {
        const s3 = new RecordingS3Client();
        const { versionId } = s3.upload(STAGING, key, 'verified bytes');
        s3.upload(STAGING, key, 'newer bytes');
        await new S3Store(s3.asClient()).copyVersion(digested(s3, key, versionId), DEPLOYMENT, key, {});
        const [copy] = s3.named('CopyObjectCommand');
        // One query string, the store's own: nothing in the key can add to it or end the path early.
        expect(copy?.input.CopySource.split('?')).toHaveLength(2);
        expect(copy?.input.CopySource.endsWith(`?versionId=${versionId}`)).toBe(true);
        expect(s3.latest(DEPLOYMENT, key)?.body.toString()).toBe('verified bytes');
      });
    });

    describe('when the version named no longer has the ETag digested', () => {
      it('fails on the condition, and copies nothing', async () => {
        const s3 = new RecordingS3Client();
        const { versionId } = s3.upload(STAGING, 'releases/app.tgz', 'verified bytes');
        const other = s3.upload(STAGING, 'releases/app.tgz', 'other bytes');
        const source = { ...digested(s3, 'releases/app.tgz', versionId), eTag: other.eTag };
        await expect(
          new S3Store(s3.asClient()).copyVersion(source, DEPLOYMENT, 'releases/app.tgz', {}),
        ).rejects.toMatchObject({ name: 'PreconditionFailed' });
        expect(s3.versions(DEPLOYMENT, 'releases/app.tgz')).toEqual([]);
      });
    });

    describe('when the source carries no version ID (an unversioned bucket)', () => {
      it('refuses before sending anything: the latest object could be other bytes', async () => {
        const s3 = new RecordingS3Client();
        s3.upload(STAGING, 'releases/app.tgz', 'bytes');
        const { versionId: _unused, ...unversioned } = digested(
          s3,
          'releases/app.tgz',
          s3.latest(STAGING, 'releases/app.tgz')?.versionId as string,
        );
        await expect(
          new S3Store(s3.asClient()).copyVersion(unversioned, DEPLOYMENT, 'releases/app.tgz', {}),
        ).rejects.toThrow(/needs a versioned source/);
        expect(s3.sent).toEqual([]);
      });
    });

    describe('when the version is larger than one CopyObject may copy', () => {
      const limits = { singleCopyBytes: 10, partBytes: 4 };

      it('copies it in byte ranges of that version, each on its ETag, and completes with every part in order', async () => {
        const s3 = new RecordingS3Client();
        const bytes = 'eleven byte'; // 11 bytes: parts of 4, 4 and 3
        const { versionId } = s3.upload(STAGING, 'releases/big.iso', bytes);
        s3.upload(STAGING, 'releases/big.iso', 'a newer upload, which must not leak into any part');
        const source = digested(s3, 'releases/big.iso', versionId);

        await new S3Store(s3.asClient(), limits).copyVersion(source, DEPLOYMENT, 'releases/big.iso', {
          'vouch-record': 'r',
        });

        expect(s3.latest(DEPLOYMENT, 'releases/big.iso')?.body.toString()).toBe(bytes);
        expect(s3.latest(DEPLOYMENT, 'releases/big.iso')?.metadata).toEqual({ 'vouch-record': 'r' });
        expect(s3.sent.map((c) => c.name)).toEqual([
          'CreateMultipartUploadCommand',
          'UploadPartCopyCommand',
          'UploadPartCopyCommand',
          'UploadPartCopyCommand',
          'CompleteMultipartUploadCommand',
        ]);
        expect(s3.named('CreateMultipartUploadCommand')[0]?.input).toEqual({
          Bucket: DEPLOYMENT,
          Key: 'releases/big.iso',
          Metadata: { 'vouch-record': 'r' },
          ChecksumAlgorithm: WRITE_CHECKSUM,
        });
        const parts = s3.named('UploadPartCopyCommand').map((c) => c.input);
        expect(parts.map((p) => [p.PartNumber, p.CopySourceRange])).toEqual([
          [1, 'bytes=0-3'],
          [2, 'bytes=4-7'],
          [3, 'bytes=8-10'],
        ]);
        for (const part of parts) {
          expect(part.CopySource).toBe(`${STAGING}/releases/big.iso?versionId=${versionId}`);
          expect(part.CopySourceIfMatch).toBe(source.eTag);
        }
        const uploadId = parts[0]?.UploadId;
        expect(parts.every((p) => p.UploadId === uploadId)).toBe(true);
        const [complete] = s3.named('CompleteMultipartUploadCommand');
        expect(complete?.input.UploadId).toBe(uploadId);
        expect(
          complete?.input.MultipartUpload.Parts.map((p: { PartNumber: number }) => p.PartNumber),
        ).toEqual([1, 2, 3]);
        expect(complete?.input.MultipartUpload.Parts.every((p: { ETag?: string }) => p.ETag)).toBe(true);
      });

      it('copies a version of exactly the limit in one CopyObject', async () => {
        const s3 = new RecordingS3Client();
        const { versionId } = s3.upload(STAGING, 'releases/ten.bin', 'ten bytes!');
        await new S3Store(s3.asClient(), limits).copyVersion(
          digested(s3, 'releases/ten.bin', versionId),
          DEPLOYMENT,
          'releases/ten.bin',
          {},
        );
        expect(s3.sent.map((c) => c.name)).toEqual(['CopyObjectCommand']);
      });

      it('aborts the upload when a part fails (the ETag no longer matches), leaving no parts behind', async () => {
        const s3 = new RecordingS3Client();
        const { versionId } = s3.upload(STAGING, 'releases/big.iso', 'eleven byte');
        s3.fail(
          'UploadPartCopyCommand',
          Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
            name: 'PreconditionFailed',
          }),
        );
        await expect(
          new S3Store(s3.asClient(), limits).copyVersion(
            digested(s3, 'releases/big.iso', versionId),
            DEPLOYMENT,
            'releases/big.iso',
            {},
          ),
        ).rejects.toMatchObject({ name: 'PreconditionFailed' });
        const [abort] = s3.named('AbortMultipartUploadCommand');
        expect(abort?.input.UploadId).toBe(s3.named('UploadPartCopyCommand')[0]?.input.UploadId);
        expect(s3.openUploads).toBe(0);
        expect(s3.named('CompleteMultipartUploadCommand')).toEqual([]);
        expect(s3.versions(DEPLOYMENT, 'releases/big.iso')).toEqual([]);
      });
    });

    describe("at S3's own limits", () => {
      /** Answers every request, holding no bytes: enough to see which requests a size leads to. */
      function plan(size: number) {
        const sent: { name: string; input: Record<string, any> }[] = [];
        const client = {
          send: async (command: { constructor: { name: string }; input: Record<string, any> }) => {
            sent.push({ name: command.constructor.name, input: command.input });
            return { UploadId: 'upload-1', CopyPartResult: { ETag: `"part-${sent.length}"` } };
          },
        } as unknown as S3Client;
        const source: ObjectVersion = {
          bucket: STAGING,
          key: 'releases/huge.iso',
          versionId: 'v1',
          eTag: '"etag"',
          size,
          lastModified: new Date(),
        };
        return new S3Store(client).copyVersion(source, DEPLOYMENT, 'releases/huge.iso', {}).then(() => {
          const ranges = sent
            .filter((c) => c.name === 'UploadPartCopyCommand')
            .map(
              (c) => /^bytes=(\d+)-(\d+)$/.exec(c.input.CopySourceRange)?.slice(1).map(Number) as number[],
            );
          return { sent, ranges };
        });
      }

      it('copies 5 GiB in one CopyObject', async () => {
        expect(S3_COPY_LIMITS.singleCopyBytes).toBe(5 * GiB);
        const { sent } = await plan(5 * GiB);
        expect(sent.map((c) => c.name)).toEqual(['CopyObjectCommand']);
      });

      it('copies one byte more in 11 parts of 512 MiB or less, covering every byte once', async () => {
        const size = 5 * GiB + 1;
        const { ranges } = await plan(size);
        expect(ranges).toHaveLength(11);
        expect(ranges[0]).toEqual([0, 512 * MiB - 1]);
        expect(ranges.at(-1)).toEqual([size - 1, size - 1]);
        for (let i = 1; i < ranges.length; i++)
          expect(ranges[i]?.[0]).toBe((ranges[i - 1]?.[1] as number) + 1);
      });

      it('stays within 10,000 parts of at most 5 GiB for the largest object S3 holds (5 TiB)', async () => {
        const size = 5 * 1024 * GiB;
        const { ranges } = await plan(size);
        expect(ranges.length).toBeLessThanOrEqual(10_000);
        expect(
          Math.max(...ranges.map(([start, end]) => (end as number) - (start as number) + 1)),
        ).toBeLessThanOrEqual(5 * GiB);
        expect(ranges.at(-1)?.[1]).toBe(size - 1);
      });
    });
  });

  describe('#streamVerified', () => {
    const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
    /** The latest object, unversioned as the pipeline sees it: whatever bytes are there when read. */
    function unversioned(s3: RecordingS3Client, key: string): ObjectVersion {
      const { versionId: _none, ...source } = digested(s3, key, s3.latest(STAGING, key)?.versionId as string);
      return source;
    }

    describe('when the bytes streamed are the ones verified', () => {
      it('uploads in parts, at most two on their way, and completes at the key with the metadata', async () => {
        const s3 = new RecordingS3Client();
        const bytes = randomBytes(10 * 1024 + 7);
        s3.upload(STAGING, 'releases/app.tgz', bytes);
        let offered: string | undefined;
        const { written, digests } = await new S3Store(s3.asClient(), S3_COPY_LIMITS, 1024).streamVerified(
          unversioned(s3, 'releases/app.tgz'),
          DEPLOYMENT,
          'releases/app.tgz',
          ['sha256'],
          { 'vouch-record': 'r' },
          (d) => {
            offered = d.sha256;
            return d.sha256 === sha256(bytes);
          },
        );
        expect(written).toBe(true);
        expect(offered).toBe(sha256(bytes));
        expect(digests.sha256).toBe(sha256(bytes));
        const parts = s3.named('UploadPartCommand').map((c) => c.input);
        expect(parts.map((p) => p.Body.length)).toEqual([...Array(10).fill(1024), 7]);
        expect(parts.every((p) => p.ChecksumAlgorithm === WRITE_CHECKSUM)).toBe(true);
        expect(s3.maxPartsInFlight).toBe(2);
        expect(s3.sent.at(-1)?.name).toBe('CompleteMultipartUploadCommand');
        const landed = s3.latest(DEPLOYMENT, 'releases/app.tgz');
        expect(sha256(landed?.body as Buffer)).toBe(sha256(bytes));
        expect(landed?.metadata).toEqual({ 'vouch-record': 'r' });
      });

      it('writes an object that fits one part with one checksummed PutObject', async () => {
        const s3 = new RecordingS3Client();
        s3.upload(STAGING, 'releases/small.txt', 'small bytes');
        const { written } = await new S3Store(s3.asClient()).streamVerified(
          unversioned(s3, 'releases/small.txt'),
          DEPLOYMENT,
          'releases/small.txt',
          ['sha256'],
          { 'vouch-record': 'r' },
          (d) => d.sha256 === sha256('small bytes'),
        );
        expect(written).toBe(true);
        expect(s3.sent.map((c) => c.name)).toEqual(['GetObjectCommand', 'PutObjectCommand']);
        expect(s3.named('PutObjectCommand')[0]?.input).toMatchObject({
          Bucket: DEPLOYMENT,
          Key: 'releases/small.txt',
          Metadata: { 'vouch-record': 'r' },
          ChecksumAlgorithm: WRITE_CHECKSUM,
        });
      });
    });

    describe('when the bytes streamed are not the ones verified (the key was overwritten since)', () => {
      it.each([
        ['in parts', 4 * 1024],
        ['in one part', 100],
      ])('leaves nothing at the key and no upload open (%s)', async (_how, size) => {
        const s3 = new RecordingS3Client();
        s3.upload(STAGING, 'releases/app.tgz', randomBytes(size));
        const { written, digests } = await new S3Store(s3.asClient(), S3_COPY_LIMITS, 1024).streamVerified(
          unversioned(s3, 'releases/app.tgz'),
          DEPLOYMENT,
          'releases/app.tgz',
          ['sha256'],
          {},
          () => false,
        );
        expect(written).toBe(false);
        expect(digests.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(s3.versions(DEPLOYMENT, 'releases/app.tgz')).toEqual([]);
        expect(s3.named('CompleteMultipartUploadCommand')).toEqual([]);
        expect(s3.named('PutObjectCommand')).toEqual([]);
        expect(s3.openUploads).toBe(0);
      });
    });

    describe('when many are promoted at once (a batch of a hundred messages)', () => {
      it(`streams at most ${MAX_CONCURRENT_STREAMS} at a time, so their parts in memory stay bounded`, async () => {
        const s3 = new RecordingS3Client();
        const store = new S3Store(s3.asClient(), S3_COPY_LIMITS, 1024);
        const keys = Array.from({ length: 10 }, (_, i) => `releases/app-${i}.tgz`);
        for (const key of keys) s3.upload(STAGING, key, randomBytes(4 * 1024));
        const results = await Promise.all(
          keys.map((key) =>
            store.streamVerified(unversioned(s3, key), DEPLOYMENT, key, ['sha256'], {}, () => true),
          ),
        );
        expect(results.every((r) => r.written)).toBe(true);
        // Two parts on their way per stream at most: ten unbounded streams would have twenty.
        expect(s3.maxPartsInFlight).toBeGreaterThan(2);
        expect(s3.maxPartsInFlight).toBeLessThanOrEqual(2 * MAX_CONCURRENT_STREAMS);
        for (const key of keys) expect(s3.latest(DEPLOYMENT, key)?.body.length).toBe(4 * 1024);
      });
    });

    describe('when a part fails', () => {
      it('aborts the upload and fails, leaving nothing at the key', async () => {
        const s3 = new RecordingS3Client();
        s3.upload(STAGING, 'releases/app.tgz', randomBytes(4 * 1024));
        s3.fail('UploadPartCommand', Object.assign(new Error('slow down'), { name: 'SlowDown' }));
        await expect(
          new S3Store(s3.asClient(), S3_COPY_LIMITS, 1024).streamVerified(
            unversioned(s3, 'releases/app.tgz'),
            DEPLOYMENT,
            'releases/app.tgz',
            ['sha256'],
            {},
            () => true,
          ),
        ).rejects.toMatchObject({ name: 'SlowDown' });
        expect(s3.named('AbortMultipartUploadCommand')).toHaveLength(1);
        expect(s3.named('CompleteMultipartUploadCommand')).toEqual([]);
        expect(s3.openUploads).toBe(0);
        expect(s3.versions(DEPLOYMENT, 'releases/app.tgz')).toEqual([]);
      });
    });
  });

  describe('#open', () => {
    it('reads the version named, not the newest', async () => {
      const s3 = new RecordingS3Client();
      const { versionId } = s3.upload(STAGING, 'releases/app.tgz', 'first');
      s3.upload(STAGING, 'releases/app.tgz', 'second');
      const { version, body } = await new S3Store(s3.asClient()).open(STAGING, 'releases/app.tgz', versionId);
      expect(Buffer.concat(await body.toArray()).toString()).toBe('first');
      expect(version.versionId).toBe(versionId);
      expect(s3.sent[0]?.input).toEqual({ Bucket: STAGING, Key: 'releases/app.tgz', VersionId: versionId });
    });
  });

  describe('#readSmall', () => {
    const CHUNK = 64 * 1024;
    /**
     * A client whose GetObject reports `reported` bytes and streams `actual`, counting the bytes pulled from
     * it: what was read plus at most one chunk the stream buffers ahead.
     */
    function lying(reported: number, actual: number) {
      const consumed = { bytes: 0, body: undefined as Readable | undefined };
      const client = {
        send: async () => {
          consumed.body = Readable.from(
            (async function* () {
              for (let sent = 0; sent < actual; sent += CHUNK) {
                const part = Buffer.alloc(Math.min(CHUNK, actual - sent), 0x20);
                consumed.bytes += part.length;
                yield part;
              }
            })(),
            { highWaterMark: 1 },
          );
          return { ContentLength: reported, ETag: '"e"', VersionId: 'v', Body: consumed.body };
        },
      } as unknown as S3Client;
      return { store: new S3Store(client), consumed };
    }

    it('refuses an object S3 reports larger than the limit without reading a byte of it', async () => {
      const { store, consumed } = lying(200 * MiB, 200 * MiB);
      const result = await store.readSmall(STAGING, 'big.sigstore.json', 16 * MiB);
      expect(result).toMatchObject({ tooLarge: true });
      expect(consumed.bytes).toBe(0);
      expect(consumed.body?.destroyed).toBe(true);
    });

    it('stops at the limit when the body is longer than S3 reported (the chunk read and one ahead)', async () => {
      const { store, consumed } = lying(1024, 200 * MiB);
      const result = await store.readSmall(STAGING, 'lying.sigstore.json', 16 * MiB);
      expect(result).toMatchObject({ tooLarge: true });
      expect(consumed.bytes).toBeGreaterThan(16 * MiB);
      expect(consumed.bytes).toBeLessThanOrEqual(16 * MiB + 2 * CHUNK);
      expect(consumed.body?.destroyed).toBe(true);
    });

    it('refuses, unread, what the shared budget does not admit', async () => {
      const { store, consumed } = lying(1024, 1024);
      const result = await store.readSmall(STAGING, 'a.sigstore.json', 16 * MiB, {
        admit: (size) => size < 1024,
      });
      expect(result).toMatchObject({ tooLarge: true });
      expect(consumed.bytes).toBe(0);
    });

    it('reads an object within the limit whole', async () => {
      const { store } = lying(16 * MiB, 16 * MiB);
      const result = await store.readSmall(STAGING, 'a.sigstore.json', 16 * MiB);
      expect('content' in result && result.content.length).toBe(16 * MiB);
    });
  });
});
