import { randomUUID } from 'node:crypto';
import { assertSafePath, isAttestationKey, type ObjectEvent, toReason } from '#core/index.ts';
import { createArtifactSteps } from './artifacts.ts';
import { createAssessor } from './assess.ts';
import { contextOf, ignored, type Outcome, type PipelineDeps } from './context.ts';
import { publishingEvents } from './events.ts';
import { createIngest } from './ingest.ts';
import { createPromoter } from './promote.ts';
import { createRecheck } from './recheck.ts';
import { createSweep } from './sweep.ts';

export type { Outcome, PipelineDeps } from './context.ts';

/**
 * The verifier, as a recipe: each step lives in its own file and is named for what it does.
 *
 *   an S3 event ─┬─ attestation → ingest (index by digest) → wake waiting artifacts ─┐
 *                └─ artifact    → digest → assess → record ──────────────────────────┴→ promote
 *   the schedule → sweep (deadlines passed, promotions abandoned)
 *   a revocation → re-check what the key vouched for → pull, quarantine (or flag, in audit mode)
 */
export function createPipeline(given: PipelineDeps) {
  const deps = given.events
    ? {
        ...given,
        records: publishingEvents(
          given.records,
          given.events.publish,
          given.events.failed,
          given.events.pipelineOf,
        ),
      }
    : given;
  const ctx = contextOf(deps);
  const assessor = createAssessor(ctx);
  const promoter = createPromoter(ctx, assessor);
  const artifacts = createArtifactSteps(ctx, assessor, promoter);
  const { ingestAttestation } = createIngest(ctx, assessor, artifacts);
  const { sweepPending, expiringSoon } = createSweep(ctx, artifacts);
  const { recheckKey } = createRecheck(ctx, assessor, promoter);

  /**
   * Handles one S3 ObjectCreated event. Infrastructure faults throw (and are retried); verdicts never do.
   * `owner` names the delivery (the SQS message ID): a redelivery of the same message may take back the
   * promotion claim its failed attempt left, while a duplicate event (another message) may not.
   */
  function handle(event: ObjectEvent, owner: string = randomUUID()): Promise<Outcome> {
    return ctx.summaries.track(() => route(event, owner));
  }

  async function route(event: ObjectEvent, owner: string): Promise<Outcome> {
    if (event.bucket !== deps.stagingBucket) return ignored(event.key);
    if (event.keyError) return artifacts.refuseKey(event, event.keyError);
    try {
      assertSafePath(event.key, ctx.limits.maxPathBytes);
    } catch (error) {
      return artifacts.refuseKey(event, toReason(error).message);
    }
    return isAttestationKey(event.key, ctx.suffixes)
      ? ingestAttestation(event, owner)
      : artifacts.verifyArtifact(event, owner);
  }

  /** Whether an event is about an attestation: an invocation handles those before its artifacts. */
  const isAttestation = (event: ObjectEvent) =>
    event.bucket === deps.stagingBucket && isAttestationKey(event.key, ctx.suffixes);

  return {
    handle,
    sweepPending,
    expiringSoon,
    recheckKey,
    isAttestation,
    /** Runs one invocation: its summaries signed together, the attestations it reads read once. */
    invocation: <T>(fn: () => Promise<T>): Promise<T> =>
      ctx.summaries.invocation(() => assessor.invocation(fn)),
  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
