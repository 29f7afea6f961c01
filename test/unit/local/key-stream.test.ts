import type { DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { KeyRecord } from '#adapters/key-registry.ts';
import { createKeyStreamPoller } from '../../../local/key-stream.ts';

const key = (keyId: string, revokedAt?: string) =>
  ({ keyId, ...(revokedAt ? { revokedAt } : {}) }) as KeyRecord;
const A = 'arn:aws:kms:us-east-1:000000000000:key/a';
const B = 'arn:aws:kms:us-east-1:000000000000:key/b';
const keysIn = (event: DynamoDBStreamEvent) => event.Records.map((r) => r.dynamodb?.NewImage?.keyId?.S);

describe('the local stand-in for the key registry stream', () => {
  it('delivers each revocation once the handler has taken it', async () => {
    const delivered: DynamoDBStreamEvent[] = [];
    const registry = { list: async () => [key(A, '2026-01-01T00:00:00.000Z'), key(B)] };
    const poller = createKeyStreamPoller(registry, async (event) => {
      delivered.push(event);
      return { batchItemFailures: [] };
    });
    expect(await poller.poll()).toBe(1);
    expect(await poller.poll()).toBe(0);
    expect(delivered.map(keysIn)).toEqual([[A]]);
  });

  it('delivers again what the handler failed, as a stream retries it, and only that', async () => {
    const delivered: DynamoDBStreamEvent[] = [];
    const registry = {
      list: async () => [key(A, '2026-01-01T00:00:00.000Z'), key(B, '2026-01-02T00:00:00.000Z')],
    };
    let failing: string[] | 'all' = [B];
    const poller = createKeyStreamPoller(registry, async (event) => {
      delivered.push(event);
      if (failing === 'all') throw new Error('All records failed processing');
      return { batchItemFailures: failing.map((itemIdentifier) => ({ itemIdentifier })) };
    });
    expect(await poller.poll()).toBe(2);
    failing = 'all';
    expect(await poller.poll()).toBe(1);
    failing = [];
    expect(await poller.poll()).toBe(1);
    expect(await poller.poll()).toBe(0);
    expect(delivered.map(keysIn)).toEqual([[A, B], [B], [B]]);
  });
});
