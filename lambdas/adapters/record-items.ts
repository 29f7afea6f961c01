import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { ArtifactRecord, ArtifactStatus } from '#core/lifecycle.ts';

/** How records are keyed and stored in the records table. */
export const recordPk = (key: string) => `OBJ#${key}`;
export const recordSk = (version: string) => `V#${version}`;
export const digestPk = (digest: string) => `DIGEST#${digest}`;
/** The status index of records written before due entries (gsi2). */
export const legacyStatusPk = (status: ArtifactStatus) => `STATUS#${status}`;

export const sortByUpdate = (records: ArtifactRecord[]) =>
  records.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
export const unique = (records: readonly ArtifactRecord[]) => [
  ...new Map(records.map((r) => [`${r.objectKey}\u0000${r.version}`, r])).values(),
];

/**
 * A record as stored: what the item's keys already say (object key, version, digest in the digest
 * index's key, creation time in the first history entry) is not stored twice. An item
 * under 1 KB costs one write unit a write, and a record of an object key up to about 120 bytes stays
 * under it.
 */
export function toItem(record: ArtifactRecord): Record<string, unknown> {
  const { objectKey, version, digest, createdAt, ...rest } = record;
  const item: Record<string, unknown> = {
    pk: recordPk(objectKey),
    sk: recordSk(version),
    ...(digest !== 'unknown' ? { gsi3pk: digestPk(digest) } : { digest }),
  };
  if (record.history[0]?.at !== createdAt) item.createdAt = createdAt;
  for (const [field, value] of Object.entries(rest)) if (value !== undefined) item[field] = value;
  return item;
}

/** A stored item as a record: whatever it leaves out, restored; legacy items are records already. */
export function strip(item: Record<string, unknown>): ArtifactRecord {
  const { pk: key, sk: versionKey, gsi1pk: _c, gsi1sk: _d, gsi2pk: _e, gsi2sk: _f, gsi3pk, ...rest } = item;
  const history = (rest.history ?? []) as ArtifactRecord['history'];
  return {
    ...rest,
    objectKey: (rest.objectKey as string | undefined) ?? String(key).slice('OBJ#'.length),
    version: (rest.version as string | undefined) ?? String(versionKey).slice('V#'.length),
    digest:
      (rest.digest as string | undefined) ??
      (typeof gsi3pk === 'string' ? gsi3pk.slice('DIGEST#'.length) : 'unknown'),
    createdAt: (rest.createdAt as string | undefined) ?? history[0]?.at ?? String(rest.updatedAt),
    history,
  } as ArtifactRecord;
}

/** Records by primary key, 100 per request, strongly consistent. */
export async function getRecords(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
): Promise<ArtifactRecord[]> {
  const records: ArtifactRecord[] = [];
  const wanted = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, { pk: k.pk, sk: k.sk }])).values()];
  for (let i = 0; i < wanted.length; i += 100) {
    let batch: Record<string, unknown>[] | undefined = wanted.slice(i, i + 100);
    while (batch && batch.length > 0) {
      const response = await db.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: batch, ConsistentRead: true } } }),
      );
      records.push(...(response.Responses?.[tableName] ?? []).map(strip));
      batch = response.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return records;
}

/**
 * Records in one of `statuses` (and, with `keyId`, that one of its signatures vouched for): a parallel scan
 * filtered by DynamoDB, for the rare reads no index is written for.
 */
export async function scanRecords(
  db: DynamoDBDocumentClient,
  tableName: string,
  statuses: readonly ArtifactStatus[],
  keyId?: string,
): Promise<ArtifactRecord[]> {
  const values: Record<string, unknown> = { ':obj': 'OBJ#', ':v': 'V#' };
  statuses.forEach((status, i) => {
    values[`:s${i}`] = status;
  });
  if (keyId) values[':keyId'] = keyId;
  const input: ScanCommandInput = {
    TableName: tableName,
    FilterExpression: `begins_with(pk, :obj) AND begins_with(sk, :v) AND #status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})${keyId ? ' AND contains(keyIds, :keyId)' : ''}`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: values,
  };
  const segments = 4;
  const parts = await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      const items: Record<string, unknown>[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await db.send(
          new ScanCommand({
            ...input,
            Segment: segment,
            TotalSegments: segments,
            ExclusiveStartKey: start,
          }),
        );
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return items;
    }),
  );
  return sortByUpdate(parts.flat().map(strip));
}
