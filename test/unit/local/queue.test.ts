import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEventQueue } from '../../../local/queue.ts';

describe('local event queue (SQS stand-in)', () => {
  it('delivers in batches and completes on drain', async () => {
    const seen: string[] = [];
    const queue = createEventQueue({
      handler: async (event: SQSEvent) => void seen.push(...event.Records.map((r) => r.body)),
      batchSize: 2,
    });
    for (const body of ['a', 'b', 'c']) queue.send(body);
    await queue.drain();
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    expect(queue.stats.succeeded).toBe(3);
  });

  describe('with a batching window', () => {
    afterEach(() => vi.useRealTimers());

    it('holds a short batch until its oldest message has waited the window, and sends a full one at once', async () => {
      vi.useFakeTimers();
      const batches: string[][] = [];
      const queue = createEventQueue({
        handler: async (event: SQSEvent) => void batches.push(event.Records.map((r) => r.body)),
        batchSize: 3,
        batchingWindowMs: 1000,
      });
      queue.send('a');
      await vi.advanceTimersByTimeAsync(600);
      expect(batches).toEqual([]);
      queue.send('b');
      await vi.advanceTimersByTimeAsync(399);
      expect(batches).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(batches).toEqual([['a', 'b']]);

      for (const body of ['c', 'd', 'e', 'f']) queue.send(body);
      await vi.advanceTimersByTimeAsync(0);
      expect(batches).toEqual([
        ['a', 'b'],
        ['c', 'd', 'e'],
      ]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(batches).toEqual([['a', 'b'], ['c', 'd', 'e'], ['f']]);
      const drained = queue.drain();
      await vi.runAllTimersAsync();
      await drained;
      expect(queue.stats.succeeded).toBe(6);
    });
  });

  it('redelivers only the messages reported as batch item failures', async () => {
    const attempts = new Map<string, number>();
    const queue = createEventQueue({
      retryDelayMs: 1,
      handler: async (event: SQSEvent) => {
        const failures = [];
        for (const record of event.Records) {
          const n = (attempts.get(record.body) ?? 0) + 1;
          attempts.set(record.body, n);
          if (record.body === 'flaky' && n < 2) failures.push({ itemIdentifier: record.messageId });
        }
        return { batchItemFailures: failures };
      },
    });
    queue.send('steady');
    queue.send('flaky');
    await queue.drain();
    expect(Object.fromEntries(attempts)).toEqual({ steady: 1, flaky: 2 });
    expect(queue.deadLetters).toEqual([]);
  });

  it('retries the whole batch when the handler throws, and dead-letters a poison message after maxReceiveCount', async () => {
    let calls = 0;
    const queue = createEventQueue({
      retryDelayMs: 1,
      maxReceiveCount: 3,
      handler: async () => {
        calls++;
        throw new Error('DynamoDB throttled');
      },
    });
    queue.send('poison');
    await queue.drain();
    expect(calls).toBe(3);
    expect(queue.deadLetters).toEqual([
      expect.objectContaining({ body: 'poison', attempts: 3, lastError: 'DynamoDB throttled' }),
    ]);
  });
});
