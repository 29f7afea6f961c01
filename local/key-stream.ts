import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { KeyRegistry } from '#adapters/key-registry.ts';

/**
 * dynalite has no streams. This stands in for the key registry's DynamoDB stream in the local stack: each
 * `poll()` compares the registry with what it saw last and emits, in the stream's own record shape, a
 * MODIFY for every key whose revocation appeared or moved earlier. The first poll reports every revoked
 * key (re-checking is idempotent), so a revocation made while the stack was down is not missed. A record
 * the handler failed (all of them when it throws) is delivered again by the next poll, as a stream
 * retries it; the failure is the handler's to log, and never stops the poller.
 */
export function createKeyStreamPoller(
  registry: Pick<KeyRegistry, 'list'>,
  deliver: (event: DynamoDBStreamEvent) => Promise<unknown>,
) {
  const seen = new Map<string, string | undefined>();
  return {
    async poll(): Promise<number> {
      const records: DynamoDBRecord[] = [];
      for (const key of await registry.list()) {
        const before = seen.get(key.keyId);
        seen.set(key.keyId, key.revokedAt);
        if (!key.revokedAt || before === key.revokedAt) continue;
        records.push({
          eventSource: 'aws:dynamodb',
          eventName: 'MODIFY',
          dynamodb: {
            // What a partial batch failure names (Powertools' item identifier): here, the key.
            SequenceNumber: key.keyId,
            NewImage: { keyId: { S: key.keyId }, revokedAt: { S: key.revokedAt } },
            ...(before ? { OldImage: { keyId: { S: key.keyId }, revokedAt: { S: before } } } : {}),
          },
        });
      }
      if (records.length === 0) return 0;
      let failed: string[];
      try {
        const response = (await deliver({ Records: records })) as
          | { batchItemFailures?: { itemIdentifier: string }[] }
          | undefined;
        failed = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
      } catch {
        failed = records.map((record) => record.dynamodb?.SequenceNumber as string);
      }
      for (const record of records) {
        const keyId = record.dynamodb?.SequenceNumber as string;
        if (failed.includes(keyId)) seen.set(keyId, record.dynamodb?.OldImage?.revokedAt?.S);
      }
      return records.length;
    },
  };
}
