// Over ~300 lines on purpose: the registry's records, its conditional writes (one state machine) and the
// verifier's cached view of it are read and changed together.
import { createPublicKey } from 'node:crypto';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  isRegistryKeyId,
  type KeyLookup,
  type KeyPurpose,
  type KeyStatus,
  type TrustedKey,
} from '#core/keys.ts';
import { type PipelineScope, pipelineOfKey } from '#core/pipelines.ts';
import { conditionally, isConditionFailure, queryAll } from './dynamo.ts';

/**
 * One key as the registry records it: the trust store of every registry signature. Times are ISO 8601
 * strings (they sort as they compare). Only the rotation function writes it (the table's resource policy
 * refuses everyone else in AWS).
 */
export interface KeyRecord {
  readonly keyId: string;
  readonly alias: string;
  /** The pipeline whose artifact signing key it is; absent for summary keys and keys from before pipelines. */
  readonly pipeline?: string;
  /** @default 'signing' (records from before summary keys were registered) */
  readonly purpose?: KeyPurpose;
  /** The pipeline's object-key prefixes when the key was created (its scope is the pipeline's, as configured). */
  readonly scope?: readonly string[];
  readonly keySpec: string;
  readonly publicKeyPem: string;
  readonly status: KeyStatus;
  /** Start of the rotation period the key was created for. */
  readonly period: string;
  readonly validFrom: string;
  readonly validUntil?: string;
  readonly revokedAt?: string;
  readonly revocationReason?: string;
  /** Who asked for the revocation, as the request said (CloudTrail has the authenticated caller). */
  readonly revokedBy?: string;
  readonly createdAt: string;
  /** What created (or adopted) it: the rotation function's role, and who asked when an admin did. */
  readonly createdBy?: string;
  /** When a key made elsewhere joined the registry (the stack's first summary key). */
  readonly adoptedAt?: string;
  /** A CloudFormation resource: retired in the registry, never disabled or deleted by the rotation. */
  readonly external?: boolean;
  readonly disabledAt?: string;
  readonly deletionScheduledAt?: string;
}

/**
 * One alias's rotation lease: the one run that may change the alias's keys now, and the work in hand.
 * `creating` with a `purpose` is a key being made (for a period, by hand, for a new policy); a run that
 * takes over a lapsed lease in that state finishes that work before anything else.
 */
export interface RotationLease {
  readonly owner: string;
  readonly leaseUntil: string;
  readonly state?: 'creating' | 'done';
  readonly purpose?: string;
  readonly keyId?: string;
  /** The line's keys were all revoked (a pipeline revoked): no new key until an admin rotates it by hand. */
  readonly suspendedAt?: string;
  readonly suspendedBy?: string;
}

/** The DynamoDB actions the verifier's key lookups perform (RegistryKeyCache): read-only. */
export const KEY_REGISTRY_READ_ACTIONS = ['BatchGetItem'] as const;

const keyPk = (keyId: string) => `KEY#${keyId}`;
/** The partition key of a key's record (rotation leases have another), for IAM leading-key conditions. */
export const keyPartitionKey = keyPk;
const KEY_SK = 'KEY';
const KEYS_INDEX_PK = 'KEYS';
const leasePk = (alias: string) => `ROTATION#${alias}`;
const LEASE_SK = 'LEASE';

/** An instant as the registry stores it; a year past 9999 has no such form and is refused. */
function instant(time: Date): string {
  const year = time.getUTCFullYear();
  if (Number.isNaN(time.getTime()) || year < 0 || year > 9999)
    throw new Error(
      `${time.toISOString?.() ?? String(time)} is outside the years 0000–9999 the registry stores`,
    );
  return time.toISOString();
}

/**
 * A record as a key the verifier trusts. `pipelines` finds the pipeline of a key registered before
 * pipelines were (by the alias it rotated behind). Throws on a record without a usable public key.
 */
export function toTrustedKey(record: KeyRecord, pipelines?: readonly PipelineScope[]): TrustedKey {
  const purpose = record.purpose ?? 'signing';
  const pipeline = purpose === 'signing' ? pipelineOfKey(pipelines, record) : undefined;
  return {
    keyId: record.keyId,
    publicKey: createPublicKey(record.publicKeyPem),
    origin: 'registry',
    alias: record.alias,
    purpose,
    ...(pipeline ? { pipeline } : {}),
    status: record.status,
    validFrom: new Date(record.validFrom),
    ...(record.validUntil ? { validUntil: new Date(record.validUntil) } : {}),
    ...(record.revokedAt ? { revokedAt: new Date(record.revokedAt) } : {}),
    ...(record.revocationReason ? { revocationReason: record.revocationReason } : {}),
  };
}

/**
 * The key registry. Every state change is a single conditional write, so concurrent rotations,
 * revocations and retries can interleave in any order and the registry stays consistent.
 */
export class KeyRegistry {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** Idempotent: registering the same key twice is a no-op, never an overwrite. */
  async register(record: KeyRecord): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: keyPk(record.keyId),
            sk: KEY_SK,
            gsi1pk: KEYS_INDEX_PK,
            gsi1sk: `${record.validFrom}#${record.keyId}`,
            ...record,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async get(keyId: string): Promise<KeyRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: keyPk(keyId), sk: KEY_SK } }),
    );
    return Item ? toRecord(Item) : undefined;
  }

  /** `consistent`: strongly consistent reads, for a check that must see a revocation written just now. */
  async getMany(keyIds: readonly string[], consistent = false): Promise<KeyRecord[]> {
    const records: KeyRecord[] = [];
    for (let i = 0; i < keyIds.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = keyIds
        .slice(i, i + 100)
        .map((id) => ({ pk: keyPk(id), sk: KEY_SK }));
      while (keys && keys.length > 0) {
        const response = await this.db.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: consistent } },
          }),
        );
        records.push(...(response.Responses?.[this.tableName] ?? []).map(toRecord));
        keys = response.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return records;
  }

  /** Every key, oldest first. */
  async list(): Promise<KeyRecord[]> {
    const items = await queryAll(this.db, {
      TableName: this.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': KEYS_INDEX_PK },
    });
    return items.map(toRecord);
  }

  /** active → retiring: the key stops signing now but its signatures stay valid until `validUntil`. */
  async retire(keyId: string, validUntil: string): Promise<boolean> {
    return this.transition(keyId, 'active', { status: 'retiring', validUntil });
  }

  /** retiring → retired: past its window; still verifies signatures made inside it. */
  async markRetired(keyId: string, disabledAt: string): Promise<boolean> {
    return this.transition(keyId, 'retiring', { status: 'retired', disabledAt });
  }

  async markDeletionScheduled(keyId: string, deletionScheduledAt: string): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: keyPk(keyId), sk: KEY_SK },
          UpdateExpression: 'SET deletionScheduledAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deletionScheduledAt)',
          ExpressionAttributeValues: { ':at': deletionScheduledAt },
        }),
      ),
    );
  }

  /**
   * Revokes a key from `effective` on. The effective time can only move earlier (as AWS Signer does):
   * a later revocation must never re-validate signatures an earlier one rejected. Times are compared as
   * instants: every time written here is a four-digit-year ISO string, which sorts as it compares.
   * The key's validity also ends then, so its deletion can be scheduled after retention.
   */
  async revoke(
    keyId: string,
    effective: Date,
    reason: string,
    revokedBy?: string,
  ): Promise<'revoked' | 'unchanged' | 'unknown'> {
    const at = instant(effective);
    const revoked = await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: keyPk(keyId), sk: KEY_SK },
          UpdateExpression: `SET #status = :revoked, revokedAt = :at, revocationReason = :reason${revokedBy ? ', revokedBy = :by' : ''}`,
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(revokedAt) OR revokedAt > :at)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':revoked': 'revoked',
            ':at': at,
            ':reason': reason,
            ...(revokedBy ? { ':by': revokedBy } : {}),
          },
        }),
      ),
    );
    if (!revoked) return (await this.get(keyId)) ? 'unchanged' : 'unknown';
    await conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: keyPk(keyId), sk: KEY_SK },
          UpdateExpression: 'SET validUntil = :at',
          ConditionExpression: 'attribute_not_exists(validUntil) OR validUntil > :at',
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
    return 'revoked';
  }

  /** Records that a key was disabled in KMS (a revoked key keeps its status). */
  async markDisabled(keyId: string, disabledAt: string): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: keyPk(keyId), sk: KEY_SK },
          UpdateExpression: 'SET disabledAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(disabledAt)',
          ExpressionAttributeValues: { ':at': disabledAt },
        }),
      ),
    );
  }

  /**
   * Takes an alias's rotation lease: one run at a time for every kind of run (scheduled, forced, after a
   * deployment), or none when another holds a live lease. A lapsed lease is taken over with the work it
   * recorded (state, purpose, key), which the new holder finishes first.
   */
  async acquireRotationLease(
    alias: string,
    owner: string,
    now: Date,
    leaseMs: number,
  ): Promise<RotationLease | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: leasePk(alias), sk: LEASE_SK },
          UpdateExpression: 'SET #owner = :owner, leaseUntil = :until',
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':until': new Date(now.getTime() + leaseMs).toISOString(),
            ':now': now.toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes as RotationLease;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Stops a line from getting new keys (its pipeline was revoked) until `resume`: the next scheduled run
   * would otherwise give it a fresh key at once. Takes effect whoever holds the lease.
   */
  async suspend(alias: string, at: Date, by?: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: leasePk(alias), sk: LEASE_SK },
        UpdateExpression: `SET suspendedAt = if_not_exists(suspendedAt, :at)${by ? ', suspendedBy = :by' : ''}`,
        ExpressionAttributeValues: { ':at': instant(at), ...(by ? { ':by': by } : {}) },
      }),
    );
  }

  /** Lets a suspended line get keys again (an admin's forced rotation); only the lease holder may. */
  async resume(alias: string, owner: string): Promise<boolean> {
    return this.updateLease(alias, owner, 'REMOVE suspendedAt, suspendedBy', {});
  }

  /** The lease item of a line, if any: whether it is suspended, and by whom. */
  async lease(alias: string): Promise<RotationLease | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: leasePk(alias), sk: LEASE_SK } }),
    );
    return Item as RotationLease | undefined;
  }

  /** Records the work a lease holder is starting: a key for `purpose`, not created yet. */
  async beginLeaseWork(alias: string, owner: string, purpose: string): Promise<boolean> {
    return this.updateLease(alias, owner, 'SET #state = :creating, purpose = :purpose REMOVE keyId', {
      ':creating': 'creating',
      ':purpose': purpose,
    });
  }

  async recordLeaseKey(alias: string, owner: string, keyId: string): Promise<boolean> {
    return this.updateLease(alias, owner, 'SET keyId = :key', { ':key': keyId });
  }

  /** The work is done; the lease lapses now, so the next run need not wait for it. */
  async completeLease(alias: string, owner: string): Promise<boolean> {
    return this.updateLease(alias, owner, 'SET #state = :done, leaseUntil = :lapsed', {
      ':done': 'done',
      ':lapsed': new Date(0).toISOString(),
    });
  }

  private async updateLease(
    alias: string,
    owner: string,
    update: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: leasePk(alias), sk: LEASE_SK },
          UpdateExpression: update,
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: {
            '#owner': 'owner',
            ...(update.includes('#state') ? { '#state': 'state' } : {}),
          },
          ExpressionAttributeValues: { ':me': owner, ...values },
        }),
      ),
    );
  }

  private async transition(keyId: string, from: KeyStatus, set: Record<string, string>): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, string> = { ':from': from };
    const assignments = Object.entries(set).map(([field, value]) => {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      return `#${field} = :${field}`;
    });
    return conditionally(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: keyPk(keyId), sk: KEY_SK },
          UpdateExpression: `SET ${assignments.join(', ')}`,
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }
}

function toRecord(item: Record<string, unknown>): KeyRecord {
  const { pk: _pk, sk: _sk, gsi1pk: _gpk, gsi1sk: _gsk, ...record } = item;
  return record as unknown as KeyRecord;
}

/**
 * Registry-backed key lookup for the verifier: public keys come from the registry (never from KMS, so a
 * verification makes zero KMS calls), cached for `ttlMs` so a revocation takes effect within that time.
 */
export class RegistryKeyCache {
  private readonly entries = new Map<string, { key: TrustedKey | undefined; expires: number }>();

  private readonly registry: Pick<KeyRegistry, 'getMany'>;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  /** The configured pipelines: each key's, and which pipeline owns an object key. */
  private readonly pipelines: readonly PipelineScope[] | undefined;

  constructor(
    registry: Pick<KeyRegistry, 'getMany'>,
    ttlMs = 30_000,
    clock: () => number = Date.now,
    pipelines?: readonly PipelineScope[],
  ) {
    this.registry = registry;
    this.ttlMs = ttlMs;
    this.clock = clock;
    this.pipelines = pipelines;
  }

  /**
   * Loads what `hints` need and is not fresh in the cache; unknown hints are cached as unknown too. Only
   * hints shaped like a KMS key ARN are looked up (the registry holds nothing else), at most `max` of
   * them: a hint is attacker input, and a malformed one must cost nothing, not fail a database call.
   */
  async preload(hints: Iterable<string>, max = 64): Promise<void> {
    const now = this.clock();
    const missing = [...new Set(hints)]
      .filter((hint) => isRegistryKeyId(hint) && !((this.entries.get(hint)?.expires ?? 0) > now))
      .slice(0, max);
    await this.load(missing, now, false);
  }

  /**
   * Reads these keys again, strongly consistent, whatever the cache holds: the check before a promotion,
   * so a revocation written after a warm cache loaded a key still stops what that key vouched for.
   */
  async refresh(keyIds: readonly string[]): Promise<void> {
    await this.load(keyIds.filter(isRegistryKeyId), this.clock(), true);
  }

  private async load(keyIds: readonly string[], now: number, consistent: boolean) {
    if (keyIds.length === 0) return;
    const found = new Map<string, TrustedKey>();
    for (const record of await this.registry.getMany(keyIds, consistent)) {
      // A record without a usable public key (never written by the rotation function) trusts nothing:
      // it is an unknown key, not a failed batch.
      try {
        found.set(record.keyId, toTrustedKey(record, this.pipelines));
      } catch {}
    }
    for (const keyId of keyIds) this.entries.set(keyId, { key: found.get(keyId), expires: now + this.ttlMs });
  }

  /** Drops cached entries, so the next preload reads the registry (a revocation must be seen at once). */
  invalidate(hints: Iterable<string>): void {
    for (const hint of hints) this.entries.delete(hint);
  }

  readonly lookup: KeyLookup = (hint) => this.entries.get(hint)?.key;
}
