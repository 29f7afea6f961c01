import { randomUUID } from 'node:crypto';
import {
  DETAIL_TYPES,
  EVENT_SCHEMA_VERSION,
  eachIsolated,
  expiringExceptions,
  type Policy,
  type PolicyException,
  policyOf,
  STALE_VERIFIED_MS,
  type VouchEvent,
} from '#core/index.ts';
import type { ArtifactSteps } from './artifacts.ts';
import type { Outcome, StepContext } from './context.ts';

/** How far ahead the sweep warns of exceptions about to expire. */
export const EXCEPTION_WARNING_MS = 7 * 24 * 3_600_000;
const DAY_MS = 24 * 3_600_000;

const exceptionExpiringEvent = (exception: PolicyException, policy: Policy): VouchEvent => ({
  detailType: DETAIL_TYPES.exceptionExpiring,
  detail: {
    schemaVersion: EVENT_SCHEMA_VERSION,
    index: exception.index,
    rules: exception.rules,
    reason: exception.reason,
    approvedBy: exception.approvedBy,
    expiresAt: exception.expiresAt.toISOString(),
    policyDigest: policy.digest,
    ...(policy.version === undefined ? {} : { policyVersion: policy.version }),
  },
});

/**
 * Run on a schedule: rejects pending artifacts whose deadline has passed, evaluates again the pending
 * ones last evaluated under another policy (a new signed version), and finishes promotions left
 * `verified` for longer than `STALE_VERIFIED_MS` (a crash after recording, whose message then ran out of
 * retries): nothing stays verified-but-not-promoted.
 */
export function createSweep({ deps, now }: StepContext, artifacts: ArtifactSteps) {
  async function sweepPending(): Promise<Outcome[]> {
    const at = now();
    const policy = policyOf(deps.policy);
    const pending = await deps.records.byStatus('pending');
    const due = pending.filter(
      (record) =>
        (record.deadline !== undefined && new Date(record.deadline) <= at) ||
        record.policyDigest !== policy.digest,
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

  const announced = new Map<string, number>();
  /**
   * Exceptions of the current policy that expire within a week: the sweep handler logs and counts them on
   * every run, and an event goes out for each at most once a day per verifier.
   */
  async function expiringSoon() {
    const policy = policyOf(deps.policy);
    const at = now().getTime();
    const expiring = expiringExceptions(policy.exceptions, now(), EXCEPTION_WARNING_MS);
    const due = expiring.filter(
      (e) => at - (announced.get(`${policy.digest}#${e.index}`) ?? -Infinity) >= DAY_MS,
    );
    if (deps.events && due.length > 0) {
      try {
        await deps.events.publish(due.map((e) => exceptionExpiringEvent(e, policy)));
        for (const e of due) announced.set(`${policy.digest}#${e.index}`, at);
      } catch (error) {
        deps.events.failed(error);
      }
    }
    return expiring;
  }

  return { sweepPending, expiringSoon };
}
