/** Maps with at most `limit` calls in flight, keeping the input's order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Runs `fn` on every item, one at a time, whatever the others do: one item's fault never stops the rest.
 * If any failed, throws once all have run (an AggregateError of the failures), so the caller's retry
 * covers what failed; every step is idempotent, so what succeeded is simply found done next time.
 */
export async function eachIsolated<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  const failures: unknown[] = [];
  for (const item of items) {
    try {
      results.push(await fn(item));
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(
      failures,
      `${failures.length} of ${items.length} failed; the rest were processed: ${failures.map((f) => (f as Error)?.message).join('; ')}`,
    );
  }
  return results;
}

/**
 * At most `limit` calls of `run` in flight at once; the others wait their turn, in order. For work whose
 * memory adds up per call (a streamed upload holds its parts), shared by every caller in the process.
 */
export function createLimiter(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(fn: () => Promise<T>): Promise<T> {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      // The turn passes straight to the next waiter (active unchanged), or is given back.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
