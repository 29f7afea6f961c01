import {
  type ArtifactRecord,
  artifactKeyBeside,
  eachIsolated,
  NOTES,
  type ObjectEvent,
  type ObjectVersion,
  type Reason,
  refusalRecord,
  subjectDigests,
  versionOf,
} from '#core/index.ts';
import type { ArtifactSteps } from './artifacts.ts';
import type { Assessor } from './assess.ts';
import { ignored, type Outcome, type StepContext } from './context.ts';

/**
 * An attestation's arrival: index it under every digest it names (content-addressed, so upload order
 * does not matter), then wake what waits for it — artifacts pending on those digests, and the artifact
 * beside it.
 */
export function createIngest(
  { deps, suffixes, limits, now }: StepContext,
  assessor: Assessor,
  artifacts: ArtifactSteps,
) {
  async function ingestAttestation(event: ObjectEvent, owner: string): Promise<Outcome> {
    const loaded = await assessor.read({ key: event.key, versionId: event.versionId });
    if (!loaded) return ignored(event.key);
    const { version, parsed } = loaded;
    const digests = subjectDigests(parsed.attestations);
    if (digests.length > limits.maxDigestsPerFile) {
      const reasons: Reason[] = [
        {
          code: 'LIMIT_EXCEEDED',
          message: `${event.key} names ${digests.length} digests (at most ${limits.maxDigestsPerFile}); not indexed`,
          subject: event.key,
        },
      ];
      return refuse(version, reasons);
    }
    await deps.index.add(digests, {
      objectKey: event.key,
      version: versionOf(version),
      observedAt: storedAt(event, version).toISOString(),
    });
    // Nothing usable: record why, so the uploader can find out (`vouch status KEY`).
    if (parsed.attestations.length === 0) return refuse(version, parsed.errors);

    const waiting: ArtifactRecord[] = [];
    for (const digest of digests) {
      for (const waiter of await deps.index.waitersFor(digest)) {
        const record = await deps.records.get(waiter.objectKey, waiter.version);
        if (record) waiting.push(record);
      }
    }
    const beside = artifactKeyBeside(event.key, suffixes);
    if (beside) waiting.push(...(await deps.records.byKey(beside)));
    const seen = new Set<string>();
    const waking = waiting.filter((record) => {
      const id = `${record.objectKey}#${record.version}`;
      if ((record.status !== 'pending' && record.status !== 'verified') || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    // Pending ones are assessed again; a verified one is a promotion an earlier delivery of this
    // attestation began and did not finish: it is carried forward, under this delivery's claim.
    const reevaluated = await eachIsolated(waking, (record) =>
      record.status === 'pending'
        ? artifacts.evaluateRecorded(record, owner)
        : artifacts.resume(record, owner),
    );
    return {
      objectKey: event.key,
      kind: 'attestation',
      ...(parsed.errors.length ? { reasons: parsed.errors } : {}),
      reevaluated,
    };
  }

  /**
   * When S3 finished storing this version: the notification's time where the event is about the version
   * read (never earlier than LastModified, which S3 may date from the start of a multipart upload),
   * otherwise now, the latest time it could have been stored: a revocation is never outrun.
   */
  function storedAt(event: ObjectEvent, version: ObjectVersion): Date {
    const eventVersion = event.versionId ?? event.eTag;
    const eventTime = Date.parse(event.eventTime);
    if (eventVersion === undefined || eventVersion !== versionOf(version) || Number.isNaN(eventTime))
      return now();
    return new Date(Math.max(eventTime, version.lastModified.getTime()));
  }

  async function refuse(version: ObjectVersion, reasons: readonly Reason[]): Promise<Outcome> {
    await deps.records.create(
      refusalRecord({
        objectKey: version.key,
        version: versionOf(version),
        bucket: version.bucket,
        size: version.size,
        uploadedAt: version.lastModified.toISOString(),
        reasons,
        note: NOTES.unusableAttestation,
        at: now(),
      }),
    );
    return { objectKey: version.key, kind: 'attestation', status: 'rejected', reasons };
  }

  return { ingestAttestation };
}
