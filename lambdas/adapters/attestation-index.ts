import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from './dynamo.ts';

export interface IndexedAttestation {
  readonly objectKey: string;
  readonly version: string;
  /** When S3 recorded its upload: the trusted signing time for keyed signatures without one. */
  readonly observedAt: string;
}

export interface Waiter {
  readonly objectKey: string;
  readonly version: string;
}

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
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async add(digest: string, attestation: IndexedAttestation): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: digestPk(digest),
          sk: itemSk('ATT#', attestation.objectKey, attestation.version),
          ...attestation,
        },
      }),
    );
  }

  async attestationsFor(digests: readonly string[]): Promise<IndexedAttestation[]> {
    const found = new Map<string, IndexedAttestation>();
    for (const digest of digests) {
      for (const item of await this.queryPrefix(digest, 'ATT#')) {
        const attestation = item as unknown as IndexedAttestation;
        found.set(`${attestation.objectKey}#${attestation.version}`, attestation);
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

  private queryPrefix(digest: string, prefix: string): Promise<Record<string, unknown>[]> {
    return queryAll(this.db, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': digestPk(digest), ':prefix': prefix },
      // Strong reads: the artifact/attestation handshake in the pipeline relies on each side seeing the other's write.
      ConsistentRead: true,
    });
  }
}
