import { PassThrough, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type DigestAlgorithm, Digester, type Digests } from '#core/digest.ts';
import type { ObjectVersion } from '#core/objects.ts';

export type { ObjectVersion };

/**
 * Sent on every write. A bucket with Object Lock default retention refuses an upload that carries no
 * checksum, and the clients compute one only when S3 requires it (WHEN_REQUIRED), so the pipeline asks
 * for one on each write it makes: the VSA, the copies and every part of a streamed upload.
 */
export const WRITE_CHECKSUM = 'CRC32' as const;

export const isMissing = (error: unknown) =>
  ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes((error as Error)?.name);

/** What the pipeline needs of an object store: S3, or an in-memory stand-in in unit tests. */
export type ObjectStore = Pick<
  S3Store,
  'open' | 'head' | 'readSmall' | 'put' | 'delete' | 'copyVersion' | 'copyWithin' | 'streamCopy'
>;

/** How S3 copies: at most 5 GiB in one CopyObject, and in at most 10,000 parts of at most 5 GiB above that. */
export interface CopyLimits {
  /** Larger versions are copied in parts. @default 5 GiB, S3's limit for one CopyObject */
  readonly singleCopyBytes: number;
  /** The size of each part (the last one may be smaller). @default 512 MiB, or more to stay under 10,000 parts */
  readonly partBytes: number;
}

export const S3_COPY_LIMITS: CopyLimits = { singleCopyBytes: 5 * 1024 ** 3, partBytes: 512 * 1024 ** 2 };
const MAX_PARTS = 10_000;

/** S3 access for the pipeline, behind a small surface the pipeline can be tested against. */
export class S3Store {
  constructor(
    readonly client: S3Client,
    readonly copyLimits: CopyLimits = S3_COPY_LIMITS,
  ) {}

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
      CopySource: `${source.bucket}/${encodeKey(source.key)}?versionId=${encodeURIComponent(source.versionId)}`,
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
    await this.copyInParts(from, source.size, bucket, key, metadata);
  }

  /** A multipart copy of `size` bytes; the upload is aborted if any part fails, so no parts linger. */
  private async copyInParts(
    from: { CopySource: string; CopySourceIfMatch?: string },
    size: number,
    bucket: string,
    key: string,
    metadata: Record<string, string>,
  ) {
    const partBytes = Math.max(this.copyLimits.partBytes, Math.ceil(size / MAX_PARTS));
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        Metadata: metadata,
        ChecksumAlgorithm: WRITE_CHECKSUM,
      }),
    );
    if (!UploadId) throw new Error(`S3 started no multipart upload for ${bucket}/${key}`);
    try {
      const parts: { PartNumber: number; ETag?: string; ChecksumCRC32?: string }[] = [];
      for (let start = 0, number = 1; start < size; start += partBytes, number++) {
        const end = Math.min(start + partBytes, size) - 1;
        const { CopyPartResult } = await this.client.send(
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
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  /** Server-side copy within the pipeline's own bucket (which only the promoter writes). */
  async copyWithin(bucket: string, from: string, to: string, metadata: Record<string, string>) {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: to,
        CopySource: `${bucket}/${encodeKey(from)}`,
        ChecksumAlgorithm: WRITE_CHECKSUM,
        MetadataDirective: 'REPLACE',
        Metadata: metadata,
        // The uploader's tags stay in staging: nothing they chose rides along, and the promoter needs no
        // tagging permissions.
        TaggingDirective: 'REPLACE',
      }),
    );
  }

  /** Streams an object into another bucket while digesting exactly the bytes uploaded. */
  async streamCopy(
    source: ObjectVersion,
    bucket: string,
    key: string,
    algorithms: readonly DigestAlgorithm[],
  ): Promise<Digests> {
    const { body } = await this.open(source.bucket, source.key, source.versionId);
    const digester = new Digester(algorithms);
    const tee = new PassThrough();
    body.on('data', (chunk: Buffer) => digester.update(chunk));
    body.on('error', (error) => tee.destroy(error));
    body.pipe(tee);
    await new Upload({
      client: this.client,
      // Parts are buffers, so each one's checksum goes in a header, never in an aws-chunked trailer.
      params: { Bucket: bucket, Key: key, Body: tee, ChecksumAlgorithm: WRITE_CHECKSUM },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    }).done();
    return digester.result().digests;
  }
}

/** CopySource is URL-encoded; slashes stay, as S3's own examples write them. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

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
