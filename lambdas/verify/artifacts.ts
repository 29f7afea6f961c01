import { isMissing, type ObjectStore } from '#adapters/s3-store.ts';
import {
  type ArtifactRecord,
  decisionFields,
  digestStream,
  formatDigests,
  isAttestationKey,
  NOTES,
  newRecord,
  type ObjectEvent,
  primaryDigest,
  type Reason,
  refusalRecord,
  sequenceOrder,
  statusFor,
  versionOf,
} from '#core/index.ts';
import { type Assessor, artifactOf } from './assess.ts';
import { ignored, type Outcome, type StepContext } from './context.ts';
import type { Promoter } from './promote.ts';

/**
 * An artifact's way to a verdict: digest it, assess it, record it (pending, verified or rejected), and
 * promote what is verified; a pending one is assessed again as attestations arrive.
 */
export function createArtifactSteps(ctx: StepContext, assessor: Assessor, promoter: Promoter) {
  const { deps, algorithms, suffixes, now } = ctx;
  const outcome = (record: ArtifactRecord): Outcome => ({
    objectKey: record.objectKey,
    kind: 'artifact',
    status: record.status,
    reasons: record.reasons,
  });

  async function verifyArtifact(event: ObjectEvent, owner: string): Promise<Outcome> {
    const eventVersion = event.versionId ?? event.eTag;
    const existing = eventVersion ? await deps.records.get(event.key, eventVersion) : undefined;
    if (existing) return resume(existing, owner);

    let opened: Awaited<ReturnType<ObjectStore['open']>>;
    try {
      opened = await deps.s3.open(event.bucket, event.key, event.versionId);
    } catch (error) {
      // Deleted since the event: nothing to verify, nothing to promote.
      if (isMissing(error)) return ignored(event.key);
      throw error;
    }
    const { digests, size, paeShaped } = await digestStream(opened.body, algorithms);
    const version = { ...opened.version, size };
    // The event named the version read (the usual case), or another: then look that one up.
    const sameVersion = eventVersion !== undefined && versionOf(version) === eventVersion;
    const recorded = sameVersion ? undefined : await deps.records.get(event.key, versionOf(version));
    if (recorded) return resume(recorded, owner);

    const at = now();
    const assessment = await assessor.assess({ objectKey: event.key, digests, paeShaped, size });
    const record = newRecord({
      objectKey: event.key,
      version: versionOf(version),
      ...(version.versionId && version.eTag ? { eTag: version.eTag } : {}),
      bucket: event.bucket,
      size,
      digest: primaryDigest(digests),
      digests,
      paeShaped,
      sequencer: sequenceOrder(sameVersion ? event.sequencer : undefined, version.lastModified),
      uploadedAt: version.lastModified,
      decision: assessment.decision,
      at,
      pendingDeadlineSeconds: deps.pendingDeadlineSeconds,
    });
    if (!(await deps.records.create(record))) {
      const winner = await deps.records.get(record.objectKey, record.version);
      return winner ? resume(winner, owner) : { objectKey: event.key, kind: 'artifact' };
    }
    if (record.status === 'pending') {
      for (const digest of formatDigests(digests)) await deps.index.addWaiter(digest, record);
      // An attestation indexed while this artifact was being verified may have looked for waiters before
      // ours existed. Waiter written, then index read here; index written, then waiters read there: with
      // strong reads at least one side sees the other, so nothing stays pending by accident of timing.
      if ((await deps.index.attestationsFor(formatDigests(digests))).length > 0)
        return evaluateRecorded(record, owner);
    }
    if (record.status === 'verified') return promoter.promote(record, assessment, owner);
    return outcome(record);
  }

  /** A duplicate or retried event, or an abandoned promotion: carry the record forward. */
  async function resume(record: ArtifactRecord, owner: string): Promise<Outcome> {
    if (record.status === 'pending') return evaluateRecorded(record, owner);
    if (record.status === 'verified') {
      const assessment = await assessor.assess(artifactOf(record));
      if (assessment.decision.accepted) return promoter.promote(record, assessment, owner);
    }
    return outcome(record);
  }

  /** Assesses a pending artifact again from its recorded digests, and moves it on if that decides it. */
  async function evaluateRecorded(record: ArtifactRecord, owner: string): Promise<Outcome> {
    const at = now();
    const assessment = await assessor.assess(artifactOf(record));
    const { decision } = assessment;
    const status = statusFor(decision, at, new Date(record.deadline ?? record.createdAt));
    if (status === 'pending') {
      // Still waiting, under a policy it was not yet evaluated by: recorded, so the sweep moves on.
      if (record.policyDigest !== decision.policyDigest)
        await deps.records.annotate(
          record.objectKey,
          record.version,
          'pending',
          { ...decisionFields(decision), updatedAt: at.toISOString() },
          NOTES.policyChanged(decision.policyVersion, decision.policyDigest),
        );
      return { objectKey: record.objectKey, kind: 'artifact', status, reasons: decision.reasons };
    }
    const moved = await deps.records.transition(record.objectKey, record.version, status, {
      ...decisionFields(decision),
      updatedAt: at.toISOString(),
    });
    const current = (await deps.records.get(record.objectKey, record.version)) ?? record;
    // A verified artifact stays a waiter until it is promoted: if this delivery fails mid-promotion, its
    // retry finds the artifact through the attestation again and finishes the promotion.
    const result =
      moved && status === 'verified' ? await promoter.promote(current, assessment, owner) : outcome(current);
    if (moved)
      for (const digest of formatDigests(record.digests)) await deps.index.removeWaiter(digest, record);
    return result;
  }

  /** An object whose key cannot be read safely is refused before a byte of it is downloaded. */
  async function refuseKey(event: ObjectEvent, message: string): Promise<Outcome> {
    const reasons: Reason[] = [{ code: 'INVALID_PATH', message }];
    await deps.records.create(
      refusalRecord({
        objectKey: event.key,
        version: event.versionId ?? event.eTag ?? 'unknown',
        bucket: event.bucket,
        size: event.size ?? 0,
        uploadedAt: event.eventTime,
        reasons,
        note: NOTES.refusedBeforeDownload,
        at: now(),
      }),
    );
    const kind = isAttestationKey(event.key, suffixes) ? 'attestation' : 'artifact';
    return { objectKey: event.key, kind, status: 'rejected', reasons };
  }

  return { verifyArtifact, resume, evaluateRecorded, refuseKey };
}

export type ArtifactSteps = ReturnType<typeof createArtifactSteps>;
