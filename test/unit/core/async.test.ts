import { describe, expect, it } from 'vitest';
import { createLimiter } from '#core/async.ts';

describe('createLimiter', () => {
  it('runs at most `limit` calls at once, the rest in the order they came, each with its result', async () => {
    const run = createLimiter(2);
    let active = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const calls = Array.from({ length: 5 }, (_, i) =>
      run(async () => {
        started.push(i);
        active++;
        most = Math.max(most, active);
        await new Promise<void>((resolve) => releases.push(resolve));
        active--;
        return i * 10;
      }),
    );
    // Let every call get as far as it may, then finish them one by one.
    for (let round = 0; round < 5; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      releases.shift()?.();
    }
    expect(await Promise.all(calls)).toEqual([0, 10, 20, 30, 40]);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('gives the turn back when a call fails', async () => {
    const run = createLimiter(1);
    await expect(run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await run(async () => 'next')).toBe('next');
  });
});
