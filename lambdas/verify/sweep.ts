import { randomUUID } from 'node:crypto';
import { eachIsolated, STALE_VERIFIED_MS } from '#core/index.ts';
import type { ArtifactSteps } from './artifacts.ts';
import type { Outcome, StepContext } from './context.ts';

/**
 * Run on a schedule: rejects pending artifacts whose deadline has passed, and finishes promotions left
 * `verified` for longer than `STALE_VERIFIED_MS` (a crash after recording, whose message then ran out of
 * retries): nothing stays verified-but-not-promoted.
 */
export function createSweep({ deps, now }: StepContext, artifacts: ArtifactSteps) {
  async function sweepPending(): Promise<Outcome[]> {
    const at = now();
    const due = (await deps.records.byStatus('pending')).filter(
      (record) => record.deadline !== undefined && new Date(record.deadline) <= at,
    );
    const stale = (await deps.records.byStatus('verified')).filter(
      (record) => at.getTime() - new Date(record.updatedAt).getTime() >= STALE_VERIFIED_MS,
    );
    // One record's fault (a hostile input, a throttled call) never stops the sweep of the others.
    const owner = `sweep-${randomUUID()}`;
    const outcomes = await Promise.allSettled([
      eachIsolated(due, (record) => artifacts.evaluateRecorded(record, owner)),
      eachIsolated(stale, (record) => artifacts.resume(record, owner)),
    ]);
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    if (failed.length > 0)
      throw new AggregateError(failed, `sweep: ${failed.map((f) => (f as Error).message).join('; ')}`);
    return outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
  }

  return { sweepPending };
}
