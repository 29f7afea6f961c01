import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { type DigestAlgorithm, Digester, type Digests } from '#core/digest.ts';
import type { ObjectVersion } from '#core/objects.ts';

/**
 * Multipart writes for the promoter (S3Store): a server-side copy of one exact version larger than a
 * single CopyObject takes, and a streamed upload that becomes visible only if what was streamed has the
 * digest verified. Neither leaves anything visible when it fails.
 */

/**
 * Sent on every write. A bucket with Object Lock default retention refuses an upload that carries no
 * checksum, and the clients compute one only when S3 requires it (WHEN_REQUIRED), so the pipeline asks
 * for one on each write it makes: the VSA, the copies and every part of a streamed upload.
 */
export const WRITE_CHECKSUM = 'CRC32' as const;

/** How S3 copies: at most 5 GiB in one CopyObject, and in at most 10,000 parts of at most 5 GiB above that. */
export interface CopyLimits {
  /** Larger versions are copied in parts. @default 5 GiB, S3's limit for one CopyObject */
  readonly singleCopyBytes: number;
  /** The size of each part (the last one may be smaller). @default 512 MiB, or more to stay under 10,000 parts */
  readonly partBytes: number;
}

export const S3_COPY_LIMITS: CopyLimits = { singleCopyBytes: 5 * 1024 ** 3, partBytes: 512 * 1024 ** 2 };
const MAX_PARTS = 10_000;
/** Parts of a streamed upload: what the promoter holds in memory, at most two at a time. */
export const DEFAULT_UPLOAD_PART_BYTES = 8 * 1024 * 1024;

/** CopySource is URL-encoded; slashes stay, as S3's own examples write them. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** `CopySource` naming exactly one version: the only query string is the store's own. */
export const copySourceOf = (source: ObjectVersion) =>
  `${source.bucket}/${encodeKey(source.key)}${source.versionId ? `?versionId=${encodeURIComponent(source.versionId)}` : ''}`;

/**
 * A multipart copy of `size` bytes of the source `from` names (a version, on its ETag: every part
 * repeats both conditions), in byte ranges of `partBytes` (more if 10,000 parts would not cover it).
 * Completed only once every part landed; aborted if any part fails, so no parts linger.
 */
export async function copyInParts(
  client: S3Client,
  from: { CopySource: string; CopySourceIfMatch?: string },
  size: number,
  target: { readonly bucket: string; readonly key: string; readonly metadata: Record<string, string> },
  partBytes: number,
): Promise<void> {
  const { bucket, key } = target;
  const rangeBytes = Math.max(partBytes, Math.ceil(size / MAX_PARTS));
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      Metadata: target.metadata,
      ChecksumAlgorithm: WRITE_CHECKSUM,
    }),
  );
  if (!UploadId) throw new Error(`S3 started no multipart upload for ${bucket}/${key}`);
  try {
    const parts: CompletedPart[] = [];
    for (let start = 0, number = 1; start < size; start += rangeBytes, number++) {
      const end = Math.min(start + rangeBytes, size) - 1;
      const { CopyPartResult } = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: number,
          ...from,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      parts.push({
        PartNumber: number,
        ETag: CopyPartResult?.ETag,
        ...(CopyPartResult?.ChecksumCRC32 ? { ChecksumCRC32: CopyPartResult.ChecksumCRC32 } : {}),
      });
    }
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (error) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Uploads a stream to `bucket/key` while digesting it, and lets it become visible only if `accept` takes
 * the digests of everything streamed: an object that fits one part is held until then and written with
 * one PutObject; a larger one is uploaded in parts and completed, or aborted (nothing visible, nothing
 * left to delete). At most two parts are held in memory.
 */
export async function uploadVerified(
  client: S3Client,
  body: Readable | AsyncIterable<Uint8Array>,
  target: {
    readonly bucket: string;
    readonly key: string;
    readonly metadata: Record<string, string>;
    readonly algorithms: readonly DigestAlgorithm[];
    readonly accept: (digests: Digests) => boolean;
  },
  partBytes = DEFAULT_UPLOAD_PART_BYTES,
): Promise<{ digests: Digests; written: boolean }> {
  const digester = new Digester(target.algorithms);
  const object = { Bucket: target.bucket, Key: target.key };
  let held: Buffer[] = [];
  let heldBytes = 0;
  let uploadId: string | undefined;
  const parts: Promise<CompletedPart>[] = [];
  const inFlight = new Set<Promise<void>>();
  let failed: unknown;

  const sendPart = async (bytes: Buffer) => {
    if (failed) throw failed;
    if (uploadId === undefined) {
      const { UploadId } = await client.send(
        new CreateMultipartUploadCommand({
          ...object,
          Metadata: target.metadata,
          ChecksumAlgorithm: WRITE_CHECKSUM,
        }),
      );
      if (!UploadId) throw new Error(`S3 started no multipart upload for ${target.bucket}/${target.key}`);
      uploadId = UploadId;
    }
    const partNumber = parts.length + 1;
    const part = client
      .send(
        new UploadPartCommand({
          ...object,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: bytes,
          ChecksumAlgorithm: WRITE_CHECKSUM,
        }),
      )
      .then(({ ETag, ChecksumCRC32 }) => ({
        PartNumber: partNumber,
        ETag,
        ...(ChecksumCRC32 ? { ChecksumCRC32 } : {}),
      }));
    parts.push(part);
    // Settled either way (a failed part stops the stream at the next chunk, and fails the upload).
    const tracked: Promise<void> = part.then(
      () => {
        inFlight.delete(tracked);
      },
      (error: unknown) => {
        inFlight.delete(tracked);
        failed ??= error;
      },
    );
    inFlight.add(tracked);
    // Backpressure: the stream waits while two parts are on their way.
    if (inFlight.size >= 2) await Promise.race(inFlight);
  };

  try {
    for await (const chunk of body) {
      if (failed) throw failed;
      const bytes = Buffer.from(chunk);
      digester.update(bytes);
      held.push(bytes);
      heldBytes += bytes.length;
      while (heldBytes >= partBytes) {
        const all = Buffer.concat(held);
        held = [all.subarray(partBytes)];
        heldBytes = held[0]?.length ?? 0;
        await sendPart(all.subarray(0, partBytes));
      }
    }
    const { digests } = digester.result();
    const accepted = target.accept(digests);
    const rest = Buffer.concat(held);
    if (uploadId === undefined) {
      if (accepted)
        await client.send(
          new PutObjectCommand({
            ...object,
            Body: rest,
            Metadata: target.metadata,
            ChecksumAlgorithm: WRITE_CHECKSUM,
          }),
        );
      return { digests, written: accepted };
    }
    if (!accepted) {
      // Never completed, so never visible; an abort that fails leaves parts the bucket's lifecycle
      // rule removes (incomplete uploads, after 7 days).
      await Promise.allSettled(parts);
      await client
        .send(new AbortMultipartUploadCommand({ ...object, UploadId: uploadId }))
        .catch(() => undefined);
      return { digests, written: false };
    }
    if (rest.length > 0) await sendPart(rest);
    const completed = await Promise.all(parts);
    await client.send(
      new CompleteMultipartUploadCommand({
        ...object,
        UploadId: uploadId,
        MultipartUpload: { Parts: completed },
      }),
    );
    return { digests, written: true };
  } catch (error) {
    if (uploadId !== undefined) {
      await Promise.allSettled(parts);
      await client
        .send(new AbortMultipartUploadCommand({ ...object, UploadId: uploadId }))
        .catch(() => undefined);
    }
    throw error;
  }
}
