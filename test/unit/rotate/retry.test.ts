import { describe, expect, it } from 'vitest';
import { isRefusal, isTransient, RetriesExhaustedError, retrier } from '../../../lambdas/rotate/retry.ts';

const error = (name: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), { name, ...extra });

function clock() {
  const state = { now: 0, waits: [] as number[] };
  return {
    state,
    options: {
      now: () => state.now,
      sleep: async (ms: number) => {
        state.waits.push(ms);
        state.now += ms;
      },
      random: () => 1,
    },
  };
}

describe('#isTransient', () => {
  it.each([
    'AccessDeniedException',
    'NotFoundException',
    'MalformedPolicyDocumentException',
    'ThrottlingException',
  ])('retries %s, a refusal that may not hold a minute later', (name) => {
    expect(isTransient(error(name))).toBe(true);
    expect(isRefusal(error(name))).toBe(true);
  });

  it('retries timeouts and server errors, but never counts them as refusals (they may have taken effect)', () => {
    for (const e of [
      error('TimeoutError'),
      error('X', { $metadata: { httpStatusCode: 503 } }),
      error('Y', { code: 'ECONNRESET' }),
    ]) {
      expect(isTransient(e)).toBe(true);
      expect(isRefusal(e)).toBe(false);
    }
  });

  it('does not retry what waiting cannot fix', () => {
    for (const name of [
      'ValidationException',
      'TagException',
      'DisabledException',
      'KMSInvalidStateException',
    ]) {
      expect(isTransient(error(name, { $metadata: { httpStatusCode: 400 } })), name).toBe(false);
    }
    expect(isTransient(undefined)).toBe(false);
  });
});

describe('#retrier', () => {
  it('retries with growing waits, capped, until the step succeeds', async () => {
    const { state, options } = clock();
    const attempt = retrier({ ...options, budgetMs: 10 * 60_000, baseDelayMs: 1000, maxDelayMs: 8000 });
    let calls = 0;
    const value = await attempt(async () => {
      if (++calls < 7) throw error('AccessDeniedException');
      return 'done';
    });
    expect(value).toBe('done');
    expect(state.waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('throws RetriesExhaustedError, with the last error as its cause, once the budget is spent', async () => {
    const { state, options } = clock();
    const attempt = retrier({ ...options, budgetMs: 5000, baseDelayMs: 1000 });
    const denied = error('AccessDeniedException');
    const failure = await attempt(async () => {
      throw denied;
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RetriesExhaustedError);
    expect((failure as RetriesExhaustedError).cause).toBe(denied);
    expect((failure as RetriesExhaustedError).attempts).toBe(3);
    expect(state.now).toBeLessThanOrEqual(5000);
  });

  it('shares one budget between the steps of a run', async () => {
    const { state, options } = clock();
    const attempt = retrier({ ...options, budgetMs: 3000, baseDelayMs: 1000 });
    let first = 0;
    await attempt(async () => {
      if (++first < 3) throw error('ThrottlingException');
    });
    expect(state.now).toBe(3000);
    await expect(
      attempt(async () => {
        throw error('ThrottlingException');
      }),
    ).rejects.toBeInstanceOf(RetriesExhaustedError);
  });

  it('throws at once an error the step says is not worth retrying', async () => {
    const { state, options } = clock();
    const attempt = retrier({ ...options, budgetMs: 60_000 });
    await expect(
      attempt(async () => {
        throw error('TimeoutError');
      }, isRefusal),
    ).rejects.toThrow('TimeoutError');
    expect(state.waits).toEqual([]);
  });
});
