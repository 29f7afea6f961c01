// Over ~300 lines on purpose: every conditional write of the record lifecycle, the promotion claim and
// the deployment slot on one table; item shapes are in record-items.ts, due entries in due-list.ts.
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  ALLOWED_FROM,
  type ArtifactRecord,
  type ArtifactStatus,
  isFinal,
  type RecordPatch,
} from '#core/lifecycle.ts';
import { claimSlot, type SlotClaim, type SlotOutcome } from './deployment-slot.ts';
import { type DueEntry, DueList } from './due-list.ts';
import { conditionally, queryAll } from './dynamo.ts';
import {
  digestPk,
  getRecords,
  legacyStatusPk,
  recordPk as pk,
  scanRecords,
  recordSk as sk,
  sortByUpdate,
  strip,
  toItem,
  unique,
} from './record-items.ts';

export type { DueEntry } from './due-list.ts';

/** Every DynamoDB action this store performs: what the stack grants the functions that use it. */
export const RECORD_STORE_ACTIONS = [
  'GetItem',
  'BatchGetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
] as const;
/**
 * The partition key of an object key's records (its versions and its deployment slot): the object key
 * itself behind a fixed prefix, so the records of every key under a staging prefix share a leading-key
 * prefix that IAM can scope (`dynamodb:LeadingKeys` like `OBJ#acme/app/*`).
 */
export const objectPartitionKey = pk;
/** What reading one key's decisions (byKey: `vouch status KEY`, `vouch upload --wait`) sends. */
export const RECORD_READ_BY_KEY_ACTIONS = ['Query'] as const;

/**
 * Decision records: one item per artifact version, written as few times as its story allows. On the
 * happy path a record is created already `verified` and holding its promotion claim, then moved to
 * `promoted`: two writes, each of one item under 1 KB, plus its entry in the digest index (keys only,
 * never rewritten). Nothing on that path writes a status index: records that need the scheduled sweep
 * (pending ones, promotions that failed or were held back) get a due entry of their own instead, and
 * the revocation re-check scans. Before this layout, records were indexed by status (gsi2) and digest
 * (gsi1, all attributes); both are still read, for records written then.
 */
export class RecordStore {
  private readonly due: DueList;

  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
    this.due = new DueList(db, tableName);
  }

  async get(objectKey: string, version: string, consistent = false): Promise<ArtifactRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pk(objectKey), sk: sk(version) },
        ...(consistent ? { ConsistentRead: true } : {}),
      }),
    );
    return Item ? strip(Item) : undefined;
  }

  /**
   * Creates the record for a version; false if it exists already (a duplicate event). A `verified` record
   * is created holding the promotion claim of `claim` (one write where a claim would take another).
   */
  async create(record: ArtifactRecord, claim?: { owner: string; until: string }): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...toItem(record),
            ...(claim && record.status === 'verified'
              ? { promotionOwner: claim.owner, promotionUntil: claim.until }
              : {}),
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
    const from = ALLOWED_FROM[to];
    return this.appendHistory(objectKey, version, patch, {
      entry: { status: to, ...(note ? { note } : {}) },
      sets: ['#status = :to'],
      values: { ':to': to, ...Object.fromEntries(from.map((status, i) => [`:from${i}`, status])) },
      condition: `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
      // A record written under the status index leaves it: the index would say its old status.
      remove: 'gsi2pk, gsi2sk',
    });
  }

  /** Updates a record's fields and history without moving it, if it is still in `status`. */
  async annotate(
    objectKey: string,
    version: string,
    status: ArtifactStatus,
    patch: RecordPatch,
    note: string,
  ) {
    return this.appendHistory(objectKey, version, patch, {
      entry: { status, note },
      sets: [],
      values: { ':status': status },
      condition: '#status = :status',
    });
  }

  /** One conditional update: the patch's fields, a history entry, and the change's own clauses. */
  private appendHistory(
    objectKey: string,
    version: string,
    patch: RecordPatch,
    change: {
      entry: { status: ArtifactStatus; note?: string };
      sets: readonly string[];
      values: Record<string, unknown>;
      condition: string;
      remove?: string;
    },
  ): Promise<boolean> {
    const at = patch.updatedAt ?? new Date().toISOString();
    const names: Record<string, string> = { '#status': 'status', '#history': 'history' };
    const values: Record<string, unknown> = {
      ...change.values,
      ':entry': [{ ...change.entry, at }],
      ':empty': [],
      ':updatedAt': at,
    };
    const sets = [
      ...change.sets,
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
          UpdateExpression: `SET ${sets.join(', ')}${change.remove ? ` REMOVE ${change.remove}` : ''}`,
          ConditionExpression: `attribute_exists(pk) AND ${change.condition}`,
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
   * Claims the object key in the deployment bucket for one recorded version, in S3's upload order (see
   * deployment-slot.ts): `superseded` when a newer upload of the key is (or was) promoted, `busy` while
   * another version's claim is alive. A finished promotion needs no write to let the key go.
   */
  async claimDeployment(objectKey: string, claim: SlotClaim): Promise<SlotOutcome> {
    return claimSlot(this.db, this.tableName, pk(objectKey), objectKey, claim, async (version) => {
      const record = await this.get(objectKey, version, true);
      return record?.status;
    });
  }

  /** Records by digest: the digest index (keys only) then the records, and those of the index before it. */
  async byDigest(digest: string): Promise<ArtifactRecord[]> {
    const keys = await queryAll(this.db, {
      TableName: this.tableName,
      IndexName: 'gsi3',
      KeyConditionExpression: 'gsi3pk = :pk',
      ExpressionAttributeValues: { ':pk': digestPk(digest) },
    });
    const legacy = await this.query({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': digestPk(digest) },
    });
    return sortByUpdate(unique([...(await getRecords(this.db, this.tableName, keys)), ...legacy]));
  }

  /**
   * Records in a status. Open ones (pending, verified) are found through their due entries and the status
   * index of earlier records; decided ones by a scan, as the revocation re-check does.
   */
  async byStatus(status: ArtifactStatus): Promise<ArtifactRecord[]> {
    if (isFinal(status)) return this.inStatus([status]);
    const due = await this.due.before();
    const records = unique([
      ...(await getRecords(
        this.db,
        this.tableName,
        due.map((e) => ({ pk: pk(e.objectKey), sk: sk(e.version) })),
      )),
      ...(await this.byLegacyStatus(status)),
    ]);
    return sortByUpdate(records.filter((record) => record.status === status));
  }

  /** Records written before due entries, still in the status index (gsi2) in `status`. */
  async byLegacyStatus(status: ArtifactStatus): Promise<ArtifactRecord[]> {
    return this.query({
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: { ':pk': legacyStatusPk(status) },
    });
  }

  /**
   * Every record in one of `statuses` that one of `keyId`'s signatures vouched for: a scan (parallel,
   * filtered by DynamoDB), read only after a revocation. Each record is read once, whatever it says.
   */
  /** Every record in one of `statuses`: a scan, read only after a summary key's revocation. */
  async inStatus(statuses: readonly ArtifactStatus[]): Promise<ArtifactRecord[]> {
    return scanRecords(this.db, this.tableName, statuses);
  }

  async byKeyId(keyId: string, statuses: readonly ArtifactStatus[]): Promise<ArtifactRecord[]> {
    return scanRecords(this.db, this.tableName, statuses, keyId);
  }

  /** Marks a record as due for the sweep at `due` (ISO): idempotent, one small item. */
  markDue(objectKey: string, version: string, due: string): Promise<void> {
    return this.due.mark(objectKey, version, due);
  }

  /** Due entries at or before `at` (ISO). */
  dueBefore(at: string): Promise<DueEntry[]> {
    return this.due.before(at);
  }

  /** Removes a due entry once the sweep has settled its record. */
  clearDue(entry: DueEntry): Promise<void> {
    return this.due.clear(entry);
  }

  private async query(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<ArtifactRecord[]> {
    const items = await queryAll(this.db, { TableName: this.tableName, ...input });
    return sortByUpdate(items.map(strip));
  }
}
