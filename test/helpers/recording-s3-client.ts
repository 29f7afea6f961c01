import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

/** One request as the SDK would send it: the command's name and its input, untouched. */
export interface SentCommand {
  readonly name: string;
  readonly input: Record<string, any>;
}

interface Version {
  readonly versionId: string;
  readonly body: Buffer;
  readonly eTag: string;
  readonly metadata: Record<string, string>;
}

const s3Error = (name: string, message = name) => Object.assign(new Error(message), { name });

/**
 * An S3 client for the adapter's tests: a versioned bucket in memory that records every command sent
 * (name and input, as the SDK would serialize them) and answers as S3 does for the requests S3Store
 * makes — versions, `CopySource` with `?versionId=`, `CopySourceIfMatch`, byte ranges of a multipart
 * copy, parts of a streamed upload (each answered a turn of the event loop later, so that parts sent
 * at once are seen at once). `fail` makes the next command of a name fail once. Cast to S3Client where S3Store wants one.
 */
export class RecordingS3Client {
  readonly sent: SentCommand[] = [];
  private readonly objects = new Map<string, Version[]>();
  private readonly uploads = new Map<
    string,
    { bucket: string; key: string; metadata: Record<string, string>; parts: Map<number, Buffer> }
  >();
  private readonly failures = new Map<string, Error>();
  private partsInFlight = 0;
  /** The most UploadPart requests that were ever on their way at once. */
  maxPartsInFlight = 0;

  asClient(): S3Client {
    return this as unknown as S3Client;
  }

  /** Stores a new version (as an uploader would) and returns its ID and ETag. */
  upload(bucket: string, key: string, body: Buffer | string, metadata: Record<string, string> = {}) {
    const version = this.store(bucket, key, Buffer.from(body), metadata);
    return { versionId: version.versionId, eTag: version.eTag };
  }

  versions(bucket: string, key: string): readonly Version[] {
    return this.objects.get(`${bucket}/${key}`) ?? [];
  }

  latest(bucket: string, key: string): Version | undefined {
    return this.versions(bucket, key).at(-1);
  }

  fail(commandName: string, error: Error): void {
    this.failures.set(commandName, error);
  }

  /** The commands sent, by name. */
  named(name: string): SentCommand[] {
    return this.sent.filter((command) => command.name === name);
  }

  async send(command: { constructor: { name: string }; input: Record<string, any> }): Promise<any> {
    const name = command.constructor.name;
    const input = structuredClone(command.input);
    this.sent.push({ name, input });
    const failure = this.failures.get(name);
    if (failure) {
      this.failures.delete(name);
      throw failure;
    }
    switch (name) {
      case 'GetObjectCommand': {
        const version = this.find(input.Bucket, input.Key, input.VersionId);
        return { ...this.describe(version), Body: Readable.from([version.body]) };
      }
      case 'HeadObjectCommand':
        return this.describe(this.find(input.Bucket, input.Key, input.VersionId));
      case 'PutObjectCommand':
        return this.describe(this.store(input.Bucket, input.Key, Buffer.from(input.Body), input.Metadata));
      case 'DeleteObjectCommand':
        this.objects.delete(`${input.Bucket}/${input.Key}`);
        return {};
      case 'CopyObjectCommand': {
        const source = this.copySource(input);
        const copied = this.store(input.Bucket, input.Key, source.body, input.Metadata ?? {});
        return { VersionId: copied.versionId, CopyObjectResult: { ETag: copied.eTag } };
      }
      case 'CreateMultipartUploadCommand': {
        const uploadId = randomUUID();
        this.uploads.set(uploadId, {
          bucket: input.Bucket,
          key: input.Key,
          metadata: input.Metadata ?? {},
          parts: new Map(),
        });
        return { UploadId: uploadId };
      }
      case 'UploadPartCopyCommand': {
        const upload = this.uploads.get(input.UploadId);
        if (!upload) throw s3Error('NoSuchUpload');
        const source = this.copySource(input);
        const range = /^bytes=(\d+)-(\d+)$/.exec(input.CopySourceRange ?? '');
        if (!range) throw s3Error('InvalidArgument', `bad range ${input.CopySourceRange}`);
        const [start, end] = [Number(range[1]), Number(range[2])];
        if (end >= source.body.length || start > end) throw s3Error('InvalidRange');
        const part = source.body.subarray(start, end + 1);
        upload.parts.set(input.PartNumber, part);
        return { CopyPartResult: { ETag: `"${md5(part)}"` } };
      }
      case 'UploadPartCommand': {
        const upload = this.uploads.get(input.UploadId);
        if (!upload) throw s3Error('NoSuchUpload');
        this.partsInFlight++;
        this.maxPartsInFlight = Math.max(this.maxPartsInFlight, this.partsInFlight);
        await new Promise((resolve) => setImmediate(resolve));
        this.partsInFlight--;
        const part = Buffer.from(input.Body);
        upload.parts.set(input.PartNumber, part);
        return { ETag: `"${md5(part)}"` };
      }
      case 'CompleteMultipartUploadCommand': {
        const upload = this.uploads.get(input.UploadId);
        if (!upload) throw s3Error('NoSuchUpload');
        const numbers = (input.MultipartUpload?.Parts ?? []).map(
          (part: { PartNumber: number }) => part.PartNumber,
        );
        const body = Buffer.concat(numbers.map((n: number) => upload.parts.get(n) ?? Buffer.alloc(0)));
        this.uploads.delete(input.UploadId);
        const version = this.store(upload.bucket, upload.key, body, upload.metadata);
        return { VersionId: version.versionId, ETag: version.eTag };
      }
      case 'AbortMultipartUploadCommand':
        this.uploads.delete(input.UploadId);
        return {};
      default:
        throw new Error(`RecordingS3Client: ${name} is not modelled`);
    }
  }

  /** Multipart uploads started and neither completed nor aborted. */
  get openUploads(): number {
    return this.uploads.size;
  }

  /** Resolves `CopySource` (`bucket/url-encoded-key[?versionId=…]`) and checks `CopySourceIfMatch`. */
  private copySource(input: Record<string, any>): Version {
    const source = String(input.CopySource);
    const [path = '', query] = source.split('?');
    const slash = path.indexOf('/');
    const bucket = path.slice(0, slash);
    const key = path
      .slice(slash + 1)
      .split('/')
      .map(decodeURIComponent)
      .join('/');
    const versionId = query ? (new URLSearchParams(query).get('versionId') ?? undefined) : undefined;
    const version = this.find(bucket, key, versionId);
    if (input.CopySourceIfMatch !== undefined && input.CopySourceIfMatch !== version.eTag) {
      throw s3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    }
    return version;
  }

  private find(bucket: string, key: string, versionId?: string): Version {
    const versions = this.versions(bucket, key);
    const found = versionId === undefined ? versions.at(-1) : versions.find((v) => v.versionId === versionId);
    if (!found) throw s3Error(versions.length > 0 ? 'NoSuchVersion' : 'NoSuchKey');
    return found;
  }

  private store(bucket: string, key: string, body: Buffer, metadata: Record<string, string> = {}): Version {
    const version = { versionId: randomUUID(), body, eTag: `"${md5(body)}"`, metadata };
    this.objects.set(`${bucket}/${key}`, [...this.versions(bucket, key), version]);
    return version;
  }

  private describe(version: Version) {
    return {
      VersionId: version.versionId,
      ETag: version.eTag,
      ContentLength: version.body.length,
      LastModified: new Date(),
      Metadata: version.metadata,
    };
  }
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
