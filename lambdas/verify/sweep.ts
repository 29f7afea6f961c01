import { randomUUID } from 'node:crypto';
import {
  type ArtifactRecord,
  DETAIL_TYPES,
  EVENT_SCHEMA_VERSION,
  eachIsolated,
  expiringExceptions,
  isFinal,
  type Policy,
  type PolicyException,
  policyOf,
  STALE_VERIFIED_MS,
  type VouchEvent,
} from '#core/index.ts';
import type { ArtifactSteps } from './artifacts.ts';
import type { Outcome, StepContext } from './context.ts';

/** Later than any due time (ISO strings sort by time). */
const MAX_DUE = '9999-12-31T23:59:59.999Z';

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
 * `verified` once their claim has lapsed (a crash after recording, whose message then ran out of
 * retries): nothing stays verified-but-not-promoted. It reads the records that have a due entry — each
 * pending record (due at its deadline, or now if the policy changed since it was evaluated), each
 * promotion that failed or was held back (due when its claim lapses) — and those of earlier releases
 * still in the status index; a due entry goes once its record is decided.
 */
export function createSweep({ deps, now }: StepContext, artifacts: ArtifactSteps) {
  async function sweepPending(): Promise<Outcome[]> {
    const at = now();
    const policy = policyOf(deps.policy);
    // Every due entry, not only those due by now: a pending record evaluated under another policy (a new
    // signed version) is due now whatever its deadline, and every pending record has an entry.
    const entries = await deps.records.dueBefore(MAX_DUE);
    const found = new Map<string, ArtifactRecord>();
    // Records with an entry due by now (a promotion is resumed only once its entry is due: its lease over).
    const dueNow = new Set<string>();
    const id = (r: { objectKey: string; version: string }) => `${r.objectKey}\u0000${r.version}`;
    for (const entry of entries) {
      const record = await deps.records.get(entry.objectKey, entry.version);
      if (!record) continue;
      found.set(id(record), record);
      if (entry.due <= at.toISOString()) dueNow.add(id(record));
    }
    for (const status of ['pending', 'verified'] as const)
      for (const record of await deps.records.byLegacyStatus(status)) {
        found.set(id(record), record);
        dueNow.add(id(record));
      }

    const records = [...found.values()];
    const due = records.filter(
      (record) =>
        record.status === 'pending' &&
        ((record.deadline !== undefined && new Date(record.deadline) <= at) ||
          record.policyDigest !== policy.digest),
    );
    const stale = records.filter(
      (record) => record.status === 'verified' && dueNow.has(id(record)) && abandoned(record, at),
    );
    // One record's fault (a hostile input, a throttled call) never stops the sweep of the others.
    const owner = `sweep-${randomUUID()}`;
    const outcomes = await Promise.allSettled([
      eachIsolated(due, (record) => artifacts.evaluateRecorded(record, owner)),
      eachIsolated(stale, (record) => artifacts.resume(record, owner)),
    ]);
    // Due entries whose record is decided by now (here, or since they were written) are done with.
    await eachIsolated(entries, async (entry) => {
      const record = await deps.records.get(entry.objectKey, entry.version);
      if (!record || isFinal(record.status)) await deps.records.clearDue(entry);
    });
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

/** Verified, and its promotion claim (or, without one, its last update) older than a lease: abandoned. */
function abandoned(record: ArtifactRecord, at: Date): boolean {
  if (record.promotionUntil !== undefined) return new Date(record.promotionUntil) < at;
  return at.getTime() - new Date(record.updatedAt).getTime() >= STALE_VERIFIED_MS;
}
