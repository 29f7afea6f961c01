import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createLimiter } from '#core/async.ts';
import type { DigestAlgorithm, Digests } from '#core/digest.ts';
import type { ObjectVersion } from '#core/objects.ts';
import {
  type CopyLimits,
  copyInParts,
  copySourceOf,
  DEFAULT_UPLOAD_PART_BYTES,
  S3_COPY_LIMITS,
  uploadVerified,
  WRITE_CHECKSUM,
} from './s3-multipart.ts';

export type { CopyLimits, ObjectVersion };

/** Streamed uploads one store runs at once: 4 × three 8 MiB parts, about 100 MiB at most. */
export const MAX_CONCURRENT_STREAMS = 4;
export { S3_COPY_LIMITS, WRITE_CHECKSUM };

export const isMissing = (error: unknown) =>
  ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes((error as Error)?.name);

/** What the pipeline needs of an object store: S3, or an in-memory stand-in in unit tests. */
export type ObjectStore = Pick<
  S3Store,
  'open' | 'head' | 'readSmall' | 'put' | 'delete' | 'copyVersion' | 'streamVerified'
>;

/** S3 access for the pipeline, behind a small surface the pipeline can be tested against. */
export class S3Store {
  readonly client: S3Client;
  readonly copyLimits: CopyLimits;
  /** Parts of a streamed upload, at most two of which are held in memory. */
  readonly uploadPartBytes: number;
  /**
   * Streamed uploads at once, each holding up to three parts: a batch of a hundred messages promoting
   * from an unversioned bucket must not hold a hundred artifacts' parts.
   */
  private readonly streams: ReturnType<typeof createLimiter>;

  constructor(
    client: S3Client,
    copyLimits: CopyLimits = S3_COPY_LIMITS,
    uploadPartBytes = DEFAULT_UPLOAD_PART_BYTES,
    streams = createLimiter(MAX_CONCURRENT_STREAMS),
  ) {
    this.client = client;
    this.copyLimits = copyLimits;
    this.uploadPartBytes = uploadPartBytes;
    this.streams = streams;
  }

  /** Opens an object for streaming; the version returned is the one actually read. */
  async open(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ version: ObjectVersion; body: Readable }> {
    const response = await this.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
    );
    return { version: toVersion(bucket, key, response), body: response.Body as Readable };
  }

  async head(bucket: string, key: string): Promise<ObjectVersion | undefined> {
    try {
      return toVersion(
        bucket,
        key,
        await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      );
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /**
   * Reads a small object whole, refusing (without reading it) one larger than `maxBytes`, or one that
   * `admit` turns down once its size is known (a budget shared by several reads).
   */
  async readSmall(
    bucket: string,
    key: string,
    maxBytes: number,
    options: { versionId?: string; admit?: (size: number) => boolean } = {},
  ): Promise<{ version: ObjectVersion; content: Buffer } | { version: ObjectVersion; tooLarge: true }> {
    const { version, body } = await this.open(bucket, key, options.versionId);
    if (version.size > maxBytes || (options.admit && !options.admit(version.size))) {
      body.destroy();
      return { version, tooLarge: true };
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      // Content-Length can lie on S3-compatible servers; the cap holds on what actually arrives.
      if (total > maxBytes) {
        body.destroy();
        return { version, tooLarge: true };
      }
      chunks.push(chunk as Buffer);
    }
    return { version, content: Buffer.concat(chunks) };
  }

  async put(
    bucket: string,
    key: string,
    body: Buffer | string,
    metadata: Record<string, string> = {},
    contentType = 'application/json',
  ) {
    await this.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        Metadata: metadata,
        ContentType: contentType,
        ChecksumAlgorithm: WRITE_CHECKSUM,
      }),
    );
  }

  async delete(bucket: string, key: string) {
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /**
   * Server-side copy of one exact source version. Only for versioned sources: a version never changes,
   * so what lands is what was digested; every request names the version and, as a second guard, the ETag
   * that was digested (`CopySourceIfMatch`). A version larger than one CopyObject may copy (5 GiB) is
   * copied in parts, each part a byte range of that version under the same conditions, covering exactly
   * the `size` bytes that were digested.
   */
  async copyVersion(source: ObjectVersion, bucket: string, key: string, metadata: Record<string, string>) {
    if (!source.versionId) throw new Error('copyVersion needs a versioned source');
    const from = {
      CopySource: copySourceOf(source),
      ...(source.eTag ? { CopySourceIfMatch: source.eTag } : {}),
    };
    if (source.size <= this.copyLimits.singleCopyBytes) {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          ...from,
          ChecksumAlgorithm: WRITE_CHECKSUM,
          MetadataDirective: 'REPLACE',
          Metadata: metadata,
          // The uploader's tags stay in staging: nothing they chose rides along, and the promoter needs no
          // tagging permissions.
          TaggingDirective: 'REPLACE',
        }),
      );
      return;
    }
    await copyInParts(this.client, from, source.size, { bucket, key, metadata }, this.copyLimits.partBytes);
  }

  /**
   * Streams an object into `bucket/key` while digesting exactly the bytes uploaded, and lets it appear
   * only if `accept` takes their digests (the bytes verified): for an unversioned source, whose bytes may
   * have changed since they were digested. Nothing is left behind when it does not.
   */
  async streamVerified(
    source: ObjectVersion,
    bucket: string,
    key: string,
    algorithms: readonly DigestAlgorithm[],
    metadata: Record<string, string>,
    accept: (digests: Digests) => boolean,
  ): Promise<{ digests: Digests; written: boolean }> {
    return this.streams(async () => {
      const { body } = await this.open(source.bucket, source.key, source.versionId);
      return uploadVerified(
        this.client,
        body,
        { bucket, key, metadata, algorithms, accept },
        this.uploadPartBytes,
      );
    });
  }
}

function toVersion(
  bucket: string,
  key: string,
  response: {
    VersionId?: string;
    ETag?: string;
    ContentLength?: number;
    LastModified?: Date;
    Metadata?: Record<string, string>;
  },
): ObjectVersion {
  return {
    bucket,
    key,
    ...(response.VersionId && response.VersionId !== 'null' ? { versionId: response.VersionId } : {}),
    ...(response.ETag ? { eTag: response.ETag } : {}),
    size: response.ContentLength ?? 0,
    lastModified: response.LastModified ?? new Date(0),
    ...(response.Metadata ? { metadata: response.Metadata } : {}),
  };
}
