import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { KeyRegistry } from '#adapters/key-registry.ts';

/**
 * dynalite has no streams. This stands in for the key registry's DynamoDB stream in the local stack: each
 * `poll()` compares the registry with what it saw last and emits, in the stream's own record shape, a
 * MODIFY for every key whose revocation appeared or moved earlier. The first poll reports every revoked
 * key (re-checking is idempotent), so a revocation made while the stack was down is not missed.
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
            NewImage: { keyId: { S: key.keyId }, revokedAt: { S: key.revokedAt } },
            ...(before ? { OldImage: { keyId: { S: key.keyId }, revokedAt: { S: before } } } : {}),
          },
        });
      }
      if (records.length > 0) await deliver({ Records: records });
      return records.length;
    },
  };
}
