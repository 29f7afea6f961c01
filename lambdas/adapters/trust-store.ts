import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  parseTrustRecord,
  sameVersions,
  type TrustRecord,
  type TrustStore,
  versionLabel,
} from '#core/index.ts';
import { isMissing } from './s3-store.ts';

/**
 * Layout, in a bucket under a prefix or in a folder: `INSTANCE/current.json`, the newest verified record,
 * and `INSTANCE/versions/root-R/timestamp-T.json`, every verified version, written once and never
 * overwritten. (The bucket is versioned as well: even `current.json` keeps its history.)
 */
const currentKey = (instance: string) => `${instance}/current.json`;
const versionKey = (record: TrustRecord) =>
  `${record.instance}/versions/${versionLabel(record.versions)}.json`;
const serialise = (record: TrustRecord) => `${JSON.stringify(record, null, 2)}\n`;
const isPreconditionFailed = (error: unknown) =>
  ['PreconditionFailed', 'ConditionalRequestConflict'].includes((error as Error)?.name) ||
  (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 412;

/** A refresh whose starting point another refresh moved meanwhile: nothing was overwritten; run again. */
export class TrustStoreConflict extends Error {
  constructor(instance: string) {
    super(`${instance}: another refresh stored a root meanwhile; nothing was overwritten, run again`);
    this.name = 'TrustStoreConflict';
  }
}

/** In S3: conditional writes (If-None-Match on versions, If-Match on `current.json`) keep it monotonic. */
export class S3TrustStore implements TrustStore {
  private readonly eTags = new Map<string, string>();

  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(client: S3Client, bucket: string, prefix = 'trust-roots/') {
    this.client = client;
    this.bucket = bucket;
    this.prefix = prefix;
  }

  async current(instance: string): Promise<TrustRecord | undefined> {
    const key = `${this.prefix}${currentKey(instance)}`;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const text = (await response.Body?.transformToString('utf8')) ?? '';
      if (response.ETag) this.eTags.set(instance, response.ETag);
      return parseTrustRecord(text, `s3://${this.bucket}/${key}`);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async save(record: TrustRecord, previous: TrustRecord | undefined): Promise<void> {
    if (!previous || !sameVersions(record.versions, previous.versions)) {
      try {
        await this.put(`${this.prefix}${versionKey(record)}`, record, { IfNoneMatch: '*' });
      } catch (error) {
        // Kept already by a concurrent refresh of the same version: versions are never rewritten.
        if (!isPreconditionFailed(error)) throw error;
      }
    }
    const eTag = previous ? this.eTags.get(record.instance) : undefined;
    try {
      await this.put(
        `${this.prefix}${currentKey(record.instance)}`,
        record,
        eTag ? { IfMatch: eTag } : { IfNoneMatch: '*' },
      );
    } catch (error) {
      if (isPreconditionFailed(error)) throw new TrustStoreConflict(record.instance);
      throw error;
    }
  }

  async history(instance: string): Promise<string[]> {
    const prefix = `${this.prefix}${instance}/versions/`;
    const labels: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? [])
        if (item.Key?.endsWith('.json')) labels.push(item.Key.slice(prefix.length, -'.json'.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return labels.sort();
  }

  private async put(key: string, record: TrustRecord, condition: { IfMatch?: string; IfNoneMatch?: string }) {
    const response = await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: serialise(record),
        ContentType: 'application/json',
        ...condition,
      }),
    );
    if (key.endsWith('/current.json') && response.ETag) this.eTags.set(record.instance, response.ETag);
  }
}

/** In a folder (the CLI's default, `.vouch/trust/`): the same layout, for one user at a time. */
export class DirectoryTrustStore implements TrustStore {
  private readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  async current(instance: string): Promise<TrustRecord | undefined> {
    const path = join(this.directory, currentKey(instance));
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return parseTrustRecord(text, path);
  }

  async save(record: TrustRecord, previous: TrustRecord | undefined): Promise<void> {
    const now = await this.current(record.instance);
    if (JSON.stringify(now) !== JSON.stringify(previous)) throw new TrustStoreConflict(record.instance);
    const version = join(this.directory, versionKey(record));
    if (!previous || !sameVersions(record.versions, previous.versions)) this.write(version, record, 'wx');
    this.write(join(this.directory, currentKey(record.instance)), record, 'w');
  }

  async history(instance: string): Promise<string[]> {
    const base = join(this.directory, instance, 'versions');
    try {
      return readdirSync(base, { recursive: true, encoding: 'utf8' })
        .filter((name) => name.endsWith('.json'))
        .map((name) => name.slice(0, -'.json'.length).split('\\').join('/'))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  private write(path: string, record: TrustRecord, flag: 'w' | 'wx') {
    mkdirSync(dirname(path), { recursive: true });
    if (flag === 'wx') {
      try {
        writeFileSync(path, serialise(record), { flag });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      return;
    }
    // Whole or not at all: a reader never sees half a record.
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, serialise(record));
    renameSync(temporary, path);
  }
}
