import { createHash } from 'node:crypto';
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { queryAll } from './dynamo.ts';

export interface IndexedAttestation {
  readonly objectKey: string;
  /** The S3 version ID, or the ETag of the bytes indexed where the bucket is not versioned. */
  readonly version: string;
  /**
   * When S3 finished storing it (the notification's event time, never earlier than LastModified): the
   * trusted signing time for keyed signatures without one of their own, for exactly this version.
   */
  readonly observedAt: string;
}

export interface Waiter {
  readonly objectKey: string;
  readonly version: string;
}

/** Every DynamoDB action the index performs: what the stack grants the functions that use it. */
export const ATTESTATION_INDEX_ACTIONS = ['PutItem', 'BatchWriteItem', 'DeleteItem', 'Query'] as const;

const digestPk = (digest: string) => `DIGEST#${digest}`;
/**
 * Sort keys name an object by the SHA-256 of its key and version: an S3 key may be 1024 bytes, and
 * DynamoDB refuses a sort key over 1024 bytes. The key itself is kept as an attribute.
 */
const itemSk = (prefix: 'ATT#' | 'WAIT#', objectKey: string, version: string) =>
  `${prefix}${createHash('sha256').update(objectKey).update('\0').update(version).digest('hex')}`;

/**
 * Attestations by every subject digest they name, and artifacts waiting on a digest. Content-addressed,
 * so upload order does not matter and one provenance can cover many artifacts. Writes are idempotent
 * puts: a redelivered event writes the same item again.
 */
export class AttestationIndex {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** Indexes one attestation under every digest it names, 25 items per request. */
  async add(digests: readonly string[], attestation: IndexedAttestation): Promise<void> {
    const items = digests.map((digest) => ({
      PutRequest: {
        Item: {
          pk: digestPk(digest),
          sk: itemSk('ATT#', attestation.objectKey, attestation.version),
          ...attestation,
        },
      },
    }));
    for (let i = 0; i < items.length; i += 25) {
      let batch: typeof items | undefined = items.slice(i, i + 25);
      for (let attempt = 0; batch && batch.length > 0; attempt++) {
        if (attempt > 0)
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
        const { UnprocessedItems } = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: batch } }),
        );
        batch = UnprocessedItems?.[this.tableName] as typeof items | undefined;
      }
    }
  }

  /**
   * Attestations naming any of these digests, at most `max` per digest: anyone who can upload can name a
   * victim's digest thousands of times, and one evaluation must not read them all.
   */
  async attestationsFor(digests: readonly string[], max = 256): Promise<IndexedAttestation[]> {
    const found = new Map<string, IndexedAttestation>();
    for (const digest of digests) {
      for (const item of await this.queryPrefix(digest, 'ATT#', max)) {
        const attestation = item as unknown as IndexedAttestation;
        found.set(`${attestation.objectKey}#${attestation.version}`, {
          objectKey: attestation.objectKey,
          version: attestation.version,
          observedAt: attestation.observedAt,
        });
      }
    }
    return [...found.values()];
  }

  async addWaiter(digest: string, waiter: Waiter): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: digestPk(digest), sk: itemSk('WAIT#', waiter.objectKey, waiter.version), ...waiter },
      }),
    );
  }

  async waitersFor(digest: string): Promise<Waiter[]> {
    return (await this.queryPrefix(digest, 'WAIT#')).map((item) => ({
      objectKey: item.objectKey as string,
      version: item.version as string,
    }));
  }

  async removeWaiter(digest: string, waiter: Waiter): Promise<void> {
    await this.db.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { pk: digestPk(digest), sk: itemSk('WAIT#', waiter.objectKey, waiter.version) },
      }),
    );
  }

  private async queryPrefix(
    digest: string,
    prefix: string,
    max?: number,
  ): Promise<Record<string, unknown>[]> {
    const input = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': digestPk(digest), ':prefix': prefix },
      // Strong reads: the artifact/attestation handshake in the pipeline relies on each side seeing the other's write.
      ConsistentRead: true,
    };
    if (max === undefined) return queryAll(this.db, input);
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({ ...input, Limit: max - items.length, ExclusiveStartKey: start }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }
}
