import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ResourceInUseException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import S3rver, { type S3rverEvent } from 's3rver';
import { createTableInput, TABLES, type TableLayout } from '#adapters/tables.ts';
import { type KmsServer, startKmsServer } from './kms/server.ts';

export interface LocalStackOptions {
  /** Persist everything here; without it a temporary directory is used and removed on close. */
  readonly dataDir?: string;
  readonly host?: string;
  /** 0 (the default) picks free ports. */
  readonly ports?: { readonly s3?: number; readonly dynamodb?: number; readonly kms?: number };
  readonly prefix?: string;
}

export interface LocalStack {
  readonly endpoints: { readonly s3: string; readonly dynamodb: string; readonly kms: string };
  readonly names: {
    readonly stagingBucket: string;
    readonly deploymentBucket: string;
    /** Signed policy bundles (`vouch policy push`), read by the verifier. */
    readonly policyBucket: string;
    readonly recordsTable: string;
    readonly indexTable: string;
    readonly keysTable: string;
  };
  readonly kms: Pick<KmsServer, 'calls' | 'resetCalls'>;
  /** The environment a handler or the CLI needs to talk to this stack (the AWS SDK reads the endpoints). */
  env(): Record<string, string>;
  /** S3 event notifications for the staging bucket, shaped as S3 sends them to SQS. */
  onStagingNotification(listener: (body: string) => void): () => void;
  close(): Promise<void>;
}

/** s3rver only accepts the credentials it registers; the other local servers accept any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * Starts s3rver, dynalite and the local KMS server on loopback, with Vouch's buckets and tables. Safe to
 * start again on the same data directory: existing buckets, tables, keys and objects are kept.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const host = options.host ?? '127.0.0.1';
  const prefix = options.prefix ?? 'vouch';
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'vouch-local-'));
  for (const dir of ['s3', 'dynamodb', 'kms']) mkdirSync(join(dataDir, dir), { recursive: true });
  const names = {
    stagingBucket: `${prefix}-staging`,
    deploymentBucket: `${prefix}-deployment`,
    policyBucket: `${prefix}-policy`,
    recordsTable: `${prefix}-records`,
    indexTable: `${prefix}-index`,
    keysTable: `${prefix}-keys`,
  };

  const s3 = new S3rver({
    address: host,
    port: options.ports?.s3 ?? 0,
    silent: true,
    directory: join(dataDir, 's3'),
    configureBuckets: [
      { name: names.stagingBucket },
      { name: names.deploymentBucket },
      { name: names.policyBucket },
    ],
  });
  const s3Address = await s3.run();
  const dynamo = dynalite({
    path: join(dataDir, 'dynamodb'),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve) => dynamo.listen(options.ports?.dynamodb ?? 0, host, () => resolve()));
  const kms = await startKmsServer({ host, port: options.ports?.kms ?? 0, dataDir: join(dataDir, 'kms') });

  const endpoints = {
    s3: `http://${host}:${s3Address.port}`,
    dynamodb: `http://${host}:${(dynamo.address() as AddressInfo).port}`,
    kms: kms.endpoint,
  };
  const client = new DynamoDBClient({
    endpoint: endpoints.dynamodb,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const tableNames: Record<TableLayout['name'], string> = {
    records: names.recordsTable,
    index: names.indexTable,
    keys: names.keysTable,
  };
  for (const layout of TABLES) await ensureTable(client, layout, tableNames[layout.name]);
  client.destroy();

  const listeners = new Set<(body: string) => void>();
  s3.on('event', (event: S3rverEvent) => {
    for (const record of event.Records) {
      if (record.s3.bucket.name !== names.stagingBucket) continue;
      const body = JSON.stringify({ Records: [asS3Record(record)] });
      for (const listener of listeners) listener(body);
    }
  });

  return {
    endpoints,
    names,
    kms,
    env: () => ({
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_KMS: endpoints.kms,
      VOUCH_STAGING_BUCKET: names.stagingBucket,
      VOUCH_DEPLOYMENT_BUCKET: names.deploymentBucket,
      VOUCH_POLICY_BUCKET: names.policyBucket,
      VOUCH_RECORDS_TABLE: names.recordsTable,
      VOUCH_INDEX_TABLE: names.indexTable,
      VOUCH_KEYS_TABLE: names.keysTable,
    }),
    onStagingNotification: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {
      listeners.clear();
      await kms.close();
      await closeGracefully(dynamo);
      // s3rver's own close waits out every keep-alive connection (5 s after a request in flight).
      if (s3.httpServer) await closeGracefully(s3.httpServer);
      else await s3.close();
      if (temporary) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Closes an HTTP server without waiting out its clients' keep-alive connections (5 s each): every
 * connection is closed as soon as it is idle, so requests in flight still finish (dynalite writes to its
 * database until the last one has).
 */
export async function closeGracefully(server: Server): Promise<void> {
  const idle = setInterval(() => server.closeIdleConnections(), 10);
  try {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  } finally {
    clearInterval(idle);
  }
}

/**
 * s3rver's records differ from S3's in two ways the handler must not have to know: S3 URL-encodes keys
 * (form style, `+` for space) and reports multipart completion as CompleteMultipartUpload.
 */
export function asS3Record(record: S3rverEvent['Records'][number]) {
  return {
    ...record,
    eventName:
      record.eventName === 'ObjectCreated:Post' ? 'ObjectCreated:CompleteMultipartUpload' : record.eventName,
    s3: {
      ...record.s3,
      object: { ...record.s3.object, key: encodeEventKey(record.s3.object.key) },
    },
  };
}

/** As S3 writes keys into event notifications: URL-encoded per segment, spaces as '+', slashes kept. */
export const encodeEventKey = (key: string) =>
  key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');

/**
 * Creates a table (unless it exists) and waits until it and its indexes are ACTIVE. A table an earlier
 * version created without an index the layout now has is made again with its items (dynalite cannot add
 * an index to a table), so a restart on an old data directory loses nothing.
 */
export async function ensureTable(client: DynamoDBClient, layout: TableLayout, name: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(layout, name)));
  } catch (error) {
    // Already there from an earlier start on the same data directory.
    if (!(error instanceof ResourceInUseException) && (error as Error).name !== 'ResourceInUseException')
      throw error;
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
    if (layout.globalIndexes.some((index) => !present.has(index.indexName)))
      await recreate(client, layout, name);
  }
  await untilActive(client, name);
}

/**
 * dynalite answers CreateTable before the table and its indexes are ACTIVE (as DynamoDB does); a read or
 * write in that window fails with ResourceNotFoundException.
 */
async function untilActive(client: DynamoDBClient, name: string): Promise<void> {
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (Table?.TableStatus === 'ACTIVE' && indexes.every((index) => index.IndexStatus === 'ACTIVE')) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Copies a table's items aside, makes the table again from its layout, and puts the items back. */
async function recreate(client: DynamoDBClient, layout: TableLayout, name: string): Promise<void> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: name, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  await client.send(new DeleteTableCommand({ TableName: name }));
  for (;;) {
    try {
      await client.send(new CreateTableCommand(createTableInput(layout, name)));
      break;
    } catch (error) {
      // dynalite deletes asynchronously: the name is free a moment later.
      if ((error as Error).name !== 'ResourceInUseException') throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await untilActive(client, name);
  for (const item of items) await client.send(new PutItemCommand({ TableName: name, Item: item }));
}
