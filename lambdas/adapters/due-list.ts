import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from './dynamo.ts';

/** A record due for the sweep's attention at `due`: its deadline, or when a held-back claim lapses. */
export interface DueEntry {
  readonly objectKey: string;
  readonly version: string;
  readonly due: string;
}

/** Due entries spread over this many partitions: none of them is hot. */
const DUE_SHARDS = 16;
const hashOf = (objectKey: string, version: string) =>
  createHash('sha256').update(objectKey).update('\0').update(version).digest('hex').slice(0, 32);
const keyOf = (objectKey: string, version: string, due: string) => {
  const hash = hashOf(objectKey, version);
  return {
    pk: `DUE#${(Number.parseInt(hash.slice(0, 2), 16) % DUE_SHARDS).toString(16)}`,
    sk: `${due}#${hash}`,
  };
};

/**
 * What the scheduled sweep must look at, and when: small items in the records table, keyed by shard and
 * due time, so the sweep reads only what is due, and nothing on the happy path writes one. A record gets
 * one when it is left open — pending until its deadline, a promotion that failed or was held back until
 * its claim lapses — and the sweep removes it once the record is decided.
 */
export class DueList {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async mark(objectKey: string, version: string, due: string): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keyOf(objectKey, version, due), objectKey, version, due },
      }),
    );
  }

  async clear(entry: DueEntry): Promise<void> {
    await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: keyOf(entry.objectKey, entry.version, entry.due) }),
    );
  }

  /** Entries due at or before `at` (ISO), or all of them, from every shard. */
  async before(at?: string): Promise<DueEntry[]> {
    const entries: DueEntry[] = [];
    for (let shard = 0; shard < DUE_SHARDS; shard++) {
      const items = await queryAll(this.db, {
        TableName: this.tableName,
        KeyConditionExpression: at ? 'pk = :pk AND sk <= :at' : 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': `DUE#${shard.toString(16)}`,
          ...(at ? { ':at': `${at}#~` } : {}),
        },
      });
      for (const item of items)
        entries.push({
          objectKey: item.objectKey as string,
          version: item.version as string,
          due: item.due as string,
        });
    }
    return entries;
  }
}
