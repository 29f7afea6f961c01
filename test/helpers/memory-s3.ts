import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectStore, ObjectVersion } from '#adapters/s3-store.ts';
import type { DigestAlgorithm, Digests } from '#core/index.ts';

interface StoredVersion {
  readonly versionId: string;
  readonly body: Buffer;
  readonly eTag: string;
  readonly lastModified: Date;
  readonly metadata: Readonly<Record<string, string>>;
}

/** One request the pipeline made, with the version and conditions it named. */
export interface StoreRequest {
  readonly op: 'open' | 'head' | 'put' | 'delete' | 'copyVersion' | 'streamVerified';
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly ifMatch?: string;
  readonly to?: string;
}

const missing = (name: 'NoSuchKey' | 'NoSuchVersion') => Object.assign(new Error(name), { name });

/**
 * S3 in memory, with every request recorded so a test can check which version and conditions each one
 * named. Versioned (the default) as AWS is where staging is versioned, which s3rver is not: the path
 * Vouch takes in AWS. Unversioned, an upload replaces the object and versions are named by ETag.
 */
export class MemoryS3 implements ObjectStore {
  readonly requests: StoreRequest[] = [];
  private readonly objects = new Map<string, StoredVersion[]>();
  private sequence = 0;
  private readonly clock: () => Date;
  readonly versioned: boolean;

  constructor(options: { clock?: () => Date; versioned?: boolean } = {}) {
    this.clock = options.clock ?? (() => new Date());
    this.versioned = options.versioned ?? true;
  }

  /** Writes a new version (as an uploader would); returns it with the event S3 would send for it. */
  upload(bucket: string, key: string, body: Buffer | string, lastModified = this.clock()) {
    const version = this.store(bucket, key, Buffer.from(body), {}, lastModified);
    const sequencer = (++this.sequence).toString(16).toUpperCase().padStart(16, '0');
    const notification = JSON.stringify({
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          eventTime: this.clock().toISOString(),
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: bucket },
            object: {
              key: key.split('/').map(encodeURIComponent).join('/'),
              size: version.body.length,
              eTag: version.eTag.replaceAll('"', ''),
              ...(this.versioned ? { versionId: version.versionId } : {}),
              sequencer,
            },
          },
        },
      ],
    });
    return { versionId: version.versionId, eTag: version.eTag, notification };
  }

  versions(bucket: string, key: string): readonly StoredVersion[] {
    return this.objects.get(`${bucket}/${key}`) ?? [];
  }

  latest(bucket: string, key: string): Buffer | undefined {
    return this.versions(bucket, key).at(-1)?.body;
  }

  keys(bucket: string): string[] {
    return [...this.objects.keys()]
      .filter((id) => id.startsWith(`${bucket}/`) && (this.objects.get(id)?.length ?? 0) > 0)
      .map((id) => id.slice(bucket.length + 1));
  }

  async open(bucket: string, key: string, versionId?: string) {
    this.requests.push({ op: 'open', bucket, key, ...(versionId ? { versionId } : {}) });
    const version = this.find(bucket, key, versionId);
    return { version: this.describe(bucket, key, version), body: Readable.from([version.body]) };
  }

  async head(bucket: string, key: string) {
    this.requests.push({ op: 'head', bucket, key });
    const version = this.versions(bucket, key).at(-1);
    return version ? this.describe(bucket, key, version) : undefined;
  }

  async readSmall(
    bucket: string,
    key: string,
    maxBytes: number,
    options: { versionId?: string; admit?: (size: number) => boolean } = {},
  ) {
    const { version, body } = await this.open(bucket, key, options.versionId);
    if (version.size > maxBytes || (options.admit && !options.admit(version.size))) {
      return { version, tooLarge: true as const };
    }
    return { version, content: Buffer.concat(await body.toArray()) };
  }

  async put(bucket: string, key: string, body: Buffer | string, metadata: Record<string, string> = {}) {
    this.requests.push({ op: 'put', bucket, key });
    this.store(bucket, key, Buffer.from(body), metadata);
  }

  async delete(bucket: string, key: string) {
    this.requests.push({ op: 'delete', bucket, key });
    this.objects.delete(`${bucket}/${key}`);
  }

  async copyVersion(source: ObjectVersion, bucket: string, key: string, metadata: Record<string, string>) {
    this.requests.push({
      op: 'copyVersion',
      bucket: source.bucket,
      key: source.key,
      ...(source.versionId ? { versionId: source.versionId } : {}),
      ...(source.eTag ? { ifMatch: source.eTag } : {}),
      to: `${bucket}/${key}`,
    });
    const version = this.find(source.bucket, source.key, source.versionId);
    if (source.eTag && source.eTag !== version.eTag) {
      throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
        name: 'PreconditionFailed',
      });
    }
    this.store(bucket, key, version.body, metadata);
  }

  /** As S3Store.streamVerified: the bytes land at the key only if `accept` takes their digests. */
  async streamVerified(
    source: ObjectVersion,
    bucket: string,
    key: string,
    algorithms: readonly DigestAlgorithm[],
    metadata: Record<string, string>,
    accept: (digests: Digests) => boolean,
  ) {
    this.requests.push({
      op: 'streamVerified',
      bucket: source.bucket,
      key: source.key,
      ...(source.versionId ? { versionId: source.versionId } : {}),
      to: `${bucket}/${key}`,
    });
    const { body } = this.find(source.bucket, source.key, source.versionId);
    const digests: Digests = {};
    for (const algorithm of algorithms) digests[algorithm] = createHash(algorithm).update(body).digest('hex');
    const written = accept(digests);
    if (written) this.store(bucket, key, body, metadata);
    return { digests, written };
  }

  private find(bucket: string, key: string, versionId?: string): StoredVersion {
    const versions = this.versions(bucket, key);
    if (versionId === undefined) {
      const latest = versions.at(-1);
      if (!latest) throw missing('NoSuchKey');
      return latest;
    }
    if (!this.versioned) throw missing('NoSuchVersion');
    const found = versions.find((v) => v.versionId === versionId);
    if (!found) throw missing(versions.length ? 'NoSuchVersion' : 'NoSuchKey');
    return found;
  }

  private store(
    bucket: string,
    key: string,
    body: Buffer,
    metadata: Record<string, string>,
    lastModified = this.clock(),
  ): StoredVersion {
    const version: StoredVersion = {
      versionId: randomUUID(),
      body,
      eTag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified,
      metadata,
    };
    const id = `${bucket}/${key}`;
    this.objects.set(id, this.versioned ? [...(this.objects.get(id) ?? []), version] : [version]);
    return version;
  }

  private describe(bucket: string, key: string, version: StoredVersion): ObjectVersion {
    return {
      bucket,
      key,
      ...(this.versioned ? { versionId: version.versionId } : {}),
      eTag: version.eTag,
      size: version.body.length,
      lastModified: version.lastModified,
      metadata: version.metadata,
    };
  }
}
