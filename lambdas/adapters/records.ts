import { createHash } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ALLOWED_FROM, type ArtifactRecord, type ArtifactStatus, type RecordPatch } from '#core/lifecycle.ts';
import { conditionally, queryAll } from './dynamo.ts';

/** Every DynamoDB action this store performs: what the stack grants the functions that use it. */
export const RECORD_STORE_ACTIONS = ['GetItem', 'PutItem', 'UpdateItem', 'Query'] as const;

const pk = (key: string) => `OBJ#${key}`;
/**
 * The partition key of an object key's records (its versions and its deployment slot): the object key
 * itself behind a fixed prefix, so the records of every key under a staging prefix share a leading-key
 * prefix that IAM can scope (`dynamodb:LeadingKeys` like `OBJ#acme/app/*`).
 */
export const objectPartitionKey = pk;
/** What reading one key's decisions (byKey: `vouch status KEY`, `vouch upload --wait`) sends. */
export const RECORD_READ_BY_KEY_ACTIONS = ['Query'] as const;
const sk = (version: string) => `V#${version}`;
const digestPk = (digest: string) => `DIGEST#${digest}`;
const statusPk = (status: ArtifactStatus) => `STATUS#${status}`;
/** Beside a key's version records: which version holds the key in the deployment bucket. */
const DEPLOYED_SK = 'DEPLOYED';
/** Ordered by time; the key's hash keeps it unique and under DynamoDB's 1024-byte sort key limit. */
const statusSk = (at: string, objectKey: string) =>
  `${at}#${createHash('sha256').update(objectKey).digest('hex').slice(0, 32)}`;

export class RecordStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(objectKey: string, version: string): Promise<ArtifactRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: pk(objectKey), sk: sk(version) } }),
    );
    return Item ? strip(Item) : undefined;
  }

  /** Creates the record for a version; false if it exists already (a duplicate event). */
  async create(record: ArtifactRecord): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys(record.objectKey, record.version, record.digest, record.status, record.updatedAt),
            ...record,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /**
   * Moves a record to `to` if its current status allows it, appending to its history. Returns false
   * (and changes nothing) when another invocation got there first: state changes are idempotent.
   */
  async transition(
    objectKey: string,
    version: string,
    to: ArtifactStatus,
    patch: RecordPatch,
    note?: string,
  ): Promise<boolean> {
    const at = patch.updatedAt ?? new Date().toISOString();
    const names: Record<string, string> = { '#status': 'status', '#history': 'history' };
    const values: Record<string, unknown> = {
      ':to': to,
      ':entry': [{ status: to, at, ...(note ? { note } : {}) }],
      ':empty': [],
      ':gsi2pk': statusPk(to),
      ':gsi2sk': statusSk(at, objectKey),
      ':updatedAt': at,
    };
    const sets = [
      '#status = :to',
      '#history = list_append(if_not_exists(#history, :empty), :entry)',
      'gsi2pk = :gsi2pk',
      'gsi2sk = :gsi2sk',
      'updatedAt = :updatedAt',
    ];
    for (const [field, value] of Object.entries(patch)) {
      if (field === 'updatedAt' || value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    const from = ALLOWED_FROM[to];
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(objectKey), sk: sk(version) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `attribute_exists(pk) AND #status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /** Updates a record's fields and history without moving it, if it is still in `status`. */
  async annotate(
    objectKey: string,
    version: string,
    status: ArtifactStatus,
    patch: RecordPatch,
    note: string,
  ) {
    const at = patch.updatedAt ?? new Date().toISOString();
    const names: Record<string, string> = { '#status': 'status', '#history': 'history' };
    const values: Record<string, unknown> = {
      ':status': status,
      ':entry': [{ status, at, note }],
      ':empty': [],
      ':updatedAt': at,
    };
    const sets = [
      '#history = list_append(if_not_exists(#history, :empty), :entry)',
      'updatedAt = :updatedAt',
    ];
    for (const [field, value] of Object.entries(patch)) {
      if (field === 'updatedAt' || value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(objectKey), sk: sk(version) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk) AND #status = :status',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * Claims the promotion of a verified record until `until` (ISO): only one invocation copies an artifact
   * into the deployment bucket at a time, however many duplicate events run at once. A claim left by a
   * crashed invocation lapses at `until`, and the sweep picks the record up.
   */
  async claimPromotion(
    objectKey: string,
    version: string,
    owner: string,
    at: string,
    until: string,
  ): Promise<'first' | 'again' | false> {
    let first = false;
    const claimed = await conditionally(async () => {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(objectKey), sk: sk(version) },
          UpdateExpression: 'SET promotionOwner = :owner, promotionUntil = :until',
          ConditionExpression:
            '#status = :verified AND (attribute_not_exists(promotionUntil) OR promotionUntil < :at OR promotionOwner = :owner)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ':at': at, ':verified': 'verified' },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      first = Attributes?.promotionOwner === undefined;
    });
    // `first`: nobody has ever tried to promote this record, so nothing of it can be in the bucket yet.
    return claimed ? (first ? 'first' : 'again') : false;
  }

  /** Gives a claim back early (the promotion failed and will be retried): it lapses now, its owner stays. */
  async releasePromotion(objectKey: string, version: string, owner: string) {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(objectKey), sk: sk(version) },
          UpdateExpression: 'SET promotionUntil = :lapsed',
          ConditionExpression: 'promotionOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner, ':lapsed': new Date(0).toISOString() },
        }),
      ),
    );
  }

  /** Every recorded version of an object key, newest first. */
  async byKey(objectKey: string): Promise<ArtifactRecord[]> {
    return this.query({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :versions)',
      ExpressionAttributeValues: { ':pk': pk(objectKey), ':versions': 'V#' },
    });
  }

  /**
   * Claims the object key in the deployment bucket for one recorded version, in S3's upload order: a
   * version may take it if nothing newer was ever promoted there and no other version holds it now.
   * `superseded`: a newer upload of the key is (or was) promoted; `busy`: another version is mid-copy.
   */
  async claimDeployment(
    objectKey: string,
    claim: { version: string; sequencer: string; at: string; until: string },
  ): Promise<'claimed' | 'superseded' | 'busy'> {
    const owner = `${objectKey}#${claim.version}`;
    const claimed = await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(objectKey), sk: DEPLOYED_SK },
          UpdateExpression: 'SET leaseOwner = :owner, leaseUntil = :until',
          ConditionExpression:
            '(attribute_not_exists(leaseUntil) OR leaseUntil < :at OR leaseOwner = :owner) AND ' +
            '(attribute_not_exists(sequencer) OR version = :version OR sequencer < :sequencer)',
          ExpressionAttributeValues: {
            ':owner': owner,
            ':until': claim.until,
            ':at': claim.at,
            ':version': claim.version,
            ':sequencer': claim.sequencer,
          },
        }),
      ),
    );
    if (claimed) return 'claimed';
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pk(objectKey), sk: DEPLOYED_SK },
        ConsistentRead: true,
      }),
    );
    const newer =
      typeof Item?.sequencer === 'string' &&
      Item.version !== claim.version &&
      Item.sequencer >= claim.sequencer;
    return newer ? 'superseded' : 'busy';
  }

  /** Records which version now holds the key, and lets the claim go. */
  async settleDeployment(objectKey: string, version: string, sequencer: string): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(objectKey), sk: DEPLOYED_SK },
          UpdateExpression: 'SET version = :version, sequencer = :sequencer REMOVE leaseOwner, leaseUntil',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: {
            ':owner': `${objectKey}#${version}`,
            ':version': version,
            ':sequencer': sequencer,
          },
        }),
      ),
    );
  }

  async byDigest(digest: string): Promise<ArtifactRecord[]> {
    return this.query({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': digestPk(digest) },
    });
  }

  /** Records in a status, optionally only those updated at or after `since` (ISO). */
  async byStatus(status: ArtifactStatus, since?: string): Promise<ArtifactRecord[]> {
    return this.query({
      IndexName: 'gsi2',
      KeyConditionExpression: since ? 'gsi2pk = :pk AND gsi2sk >= :since' : 'gsi2pk = :pk',
      ExpressionAttributeValues: since
        ? { ':pk': statusPk(status), ':since': since }
        : { ':pk': statusPk(status) },
    });
  }

  private async query(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<ArtifactRecord[]> {
    const items = await queryAll(this.db, { TableName: this.tableName, ...input });
    return items.map(strip).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }
}

function keys(objectKey: string, version: string, digest: string, status: ArtifactStatus, at: string) {
  return {
    pk: pk(objectKey),
    sk: sk(version),
    gsi1pk: digestPk(digest),
    gsi1sk: at,
    gsi2pk: statusPk(status),
    gsi2sk: statusSk(at, objectKey),
  };
}

function strip(item: Record<string, unknown>): ArtifactRecord {
  const { pk: _a, sk: _b, gsi1pk: _c, gsi1sk: _d, gsi2pk: _e, gsi2sk: _f, ...record } = item;
  return record as unknown as ArtifactRecord;
}
