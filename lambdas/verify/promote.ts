import {
  type ArtifactRecord,
  attestationCopy,
  type Decision,
  decisionFields,
  digestsMatch,
  isFlagged,
  keySignaturesStillValid,
  legacyVsaKey,
  NOTES,
  type ObjectVersion,
  PROMOTION_LEASE_MS,
  primaryDigest,
  type Reason,
  sequenceOrder,
  summaryEntry,
  summaryFile,
  vsaKey,
} from '#core/index.ts';
import { type Assessment, type Assessor, artifactOf, type GatheredInput } from './assess.ts';
import type { Outcome, StepContext } from './context.ts';

/**
 * Promotion: confirm the keys → claim the record → claim the key in the deployment bucket → copy exactly
 * the verified bytes (VSA first) → record it promoted → release the key. And its undoing: pull.
 */
export function createPromoter({ deps, algorithms, now, summaries }: StepContext, assessor: Assessor) {
  const outcome = (record: ArtifactRecord, status: ArtifactRecord['status'], reasons?: readonly Reason[]) =>
    ({ objectKey: record.objectKey, kind: 'artifact', status, ...(reasons ? { reasons } : {}) }) as const;

  /**
   * Copies exactly the verified bytes. A versioned source is copied by version (immutable). Otherwise the
   * object is streamed into place while being digested again, and completes there only if the digest
   * still matches: an overwrite after verification never reaches deployers. `owner`
   * names the delivery: its own redelivery may take back the claim a failed attempt left.
   */
  async function promote(
    record: ArtifactRecord,
    assessment: Assessment,
    owner: string,
    options: { readonly claimed?: boolean } = {},
  ): Promise<Outcome> {
    const { decision } = assessment;
    // The decision may rest on keys read from a cache: confirm them against the registry as it is now,
    // so a revocation written since never lets an artifact through on a signature it invalidates.
    if (decision.keyIds.length > 0) {
      await deps.keys.refresh(decision.keyIds);
      if (!keySignaturesStillValid(decision, deps.keys.lookup)) return refuse(record, decision.keyIds);
    }
    const at = now();
    const until = new Date(at.getTime() + PROMOTION_LEASE_MS).toISOString();
    // A record created verified holds its claim already: it was taken in the same write.
    const claim = options.claimed
      ? 'first'
      : await deps.records.claimPromotion(record.objectKey, record.version, owner, at.toISOString(), until);
    if (!claim) {
      // Another delivery (a duplicate event) is promoting it, or it is promoted already. If that one
      // dies holding its claim, the sweep finishes the promotion once the claim lapses.
      const current = await deps.records.get(record.objectKey, record.version);
      if (current?.status === 'verified')
        await deps.records.markDue(record.objectKey, record.version, current.promotionUntil ?? until);
      return outcome(record, current?.status ?? record.status);
    }
    try {
      const sequencer = record.sequencer ?? sequenceOrder(undefined, new Date(record.uploadedAt));
      const slot = await deps.records.claimDeployment(record.objectKey, {
        version: record.version,
        sequencer,
        at: at.toISOString(),
        until,
      });
      if (slot === 'superseded') return await supersede(record);
      if (slot === 'busy') {
        throw new Error(`another version of ${record.objectKey} is being promoted; this one will be retried`);
      }
      // No write follows to give the key back: the record moving to promoted (or rejected) ends the claim.
      return await promoteClaimed(record, assessment, claim === 'again');
    } catch (error) {
      // A failure we live to see gives the claim back, so another delivery need not wait for it to lapse,
      // and marks the record due: if no redelivery finishes it, the sweep does.
      await deps.records.releasePromotion(record.objectKey, record.version, owner).catch(() => false);
      await deps.records.markDue(record.objectKey, record.version, until).catch(() => undefined);
      throw error;
    }
  }

  /**
   * A key the decision rested on was revoked (or retired) since the cache read it: the artifact is not
   * promoted on it. It is assessed again from fresh keys, for the record.
   */
  async function refuse(record: ArtifactRecord, relied: readonly string[]): Promise<Outcome> {
    const { decision } = await assessor.assess(artifactOf(record));
    const reasons: Reason[] = [
      {
        code: 'KEY_REVOKED',
        message: `${relied.join(', ')} no longer valid when its signatures were made (read again before promotion); not promoted`,
      },
      ...decision.reasons,
    ];
    await deps.records.transition(
      record.objectKey,
      record.version,
      'rejected',
      { ...decisionFields(decision), reasons, updatedAt: now().toISOString() },
      NOTES.revokedBeforePromotion,
    );
    const current = await deps.records.get(record.objectKey, record.version);
    return outcome(record, current?.status ?? 'rejected', reasons);
  }

  /** A newer upload of the same key holds (or held) the deployment bucket: an older one never replaces it. */
  async function supersede(record: ArtifactRecord): Promise<Outcome> {
    const reasons: Reason[] = [
      {
        code: 'SUPERSEDED',
        message: `a newer upload of ${record.objectKey} was promoted; an older version is never promoted over it`,
      },
    ];
    await deps.records.transition(
      record.objectKey,
      record.version,
      'rejected',
      { reasons, updatedAt: now().toISOString() },
      NOTES.superseded,
    );
    const current = await deps.records.get(record.objectKey, record.version);
    return outcome(record, current?.status ?? 'rejected', reasons);
  }

  async function promoteClaimed(
    record: ArtifactRecord,
    assessment: Assessment,
    retried: boolean,
  ): Promise<Outcome> {
    const { decision } = assessment;
    const recordId = `${record.objectKey}#${record.version}`;
    // Only a retried promotion can find its own copy in place already (a crash between copying and
    // recording): then nothing is copied twice, and only the record is brought up to date.
    const deployed = retried ? await deps.s3.head(deps.deploymentBucket, record.objectKey) : undefined;
    if (deployed?.metadata?.['vouch-record'] !== recordId) {
      const rejected = await copyIntoPlace(record, assessment, recordId);
      if (rejected) return rejected;
    }
    const moved = await deps.records.transition(record.objectKey, record.version, 'promoted', {
      updatedAt: now().toISOString(),
    });
    if (moved) return outcome(record, 'promoted', decision.reasons);
    // The record moved on while the bytes were being copied: a revocation re-check quarantined it. What
    // was just copied must not stay where deployers fetch from.
    const current = await deps.records.get(record.objectKey, record.version);
    if (current && current.status !== 'promoted') await pull(current);
    return outcome(record, current?.status ?? 'promoted', decision.reasons);
  }

  /**
   * Writes the VSA, the attestation copies and the verified bytes. Returns an outcome only when the bytes
   * changed under it (unversioned staging) and the artifact was rejected instead.
   */
  async function copyIntoPlace(
    record: ArtifactRecord,
    { decision, inputs }: Assessment,
    recordId: string,
  ): Promise<Outcome | undefined> {
    const source: ObjectVersion = {
      bucket: record.bucket,
      key: record.objectKey,
      ...(record.version.startsWith('"')
        ? { eTag: record.version }
        : { versionId: record.version, ...(record.eTag ? { eTag: record.eTag } : {}) }),
      size: record.size,
      lastModified: new Date(record.uploadedAt),
    };
    const metadata = {
      'vouch-digest': record.digest,
      'vouch-record': recordId,
      'vouch-policy': decision.policyDigest,
      ...(isFlagged(decision) ? { 'vouch-flagged': 'audit-mode' } : {}),
    };
    // The summary lands first: an artifact is never visible without the attestation deployers check.
    await writeSummary(record, decision, inputs);
    if (source.versionId) {
      await deps.s3.copyVersion(source, deps.deploymentBucket, record.objectKey, metadata);
      return undefined;
    }
    // Unversioned: the bytes are digested again as they stream into place, and appear there only if
    // they are the ones verified. An overwrite since leaves nothing behind but the summary, removed here.
    const landed = await deps.s3.streamVerified(
      source,
      deps.deploymentBucket,
      record.objectKey,
      algorithms,
      metadata,
      (digests) => digestsMatch(record.digests, digests as Record<string, string>),
    );
    if (!landed.written) {
      await deps.s3.delete(deps.deploymentBucket, vsaKey(record.objectKey));
      const reasons: Reason[] = [
        {
          code: 'SUBJECT_MISMATCH',
          message: `the staging object changed after verification (now ${primaryDigest(landed.digests)}); not promoted`,
        },
      ];
      await deps.records.transition(
        record.objectKey,
        record.version,
        'rejected',
        { reasons, updatedAt: now().toISOString() },
        NOTES.overwritten,
      );
      return outcome(record, 'rejected', reasons);
    }
    return undefined;
  }

  /**
   * Writes the VSA deployers check for this record's promoted bytes: the summary signed for the batch it
   * was promoted in, with copies of the attestations it rests on, in one object. `notBy`: a (revoked) key
   * that must not sign it: if the summary alias still names that key (its replacement not in place yet),
   * nothing is written and this throws, so the caller's retry signs it later with the replacement.
   */
  async function writeSummary(
    record: ArtifactRecord,
    decision: Decision,
    inputs: readonly GatheredInput[],
    notBy?: string,
  ) {
    // Each copy digested once: the entry lists the digests, the file carries the bytes.
    const copies = inputs.map((input) =>
      attestationCopy(`s3://${input.version.bucket}/${input.version.key}`, input.content),
    );
    const { envelope } = await summaries.sign(
      summaryEntry({
        decision,
        resourceUri: `s3://${record.bucket}/${record.objectKey}`,
        subjectName: record.objectKey,
        inputAttestations: copies.map(({ uri, digest }) => ({ uri, digest })),
      }),
    );
    if (notBy !== undefined && envelope.signatures.some((signature) => signature.keyid === notBy))
      throw new Error(
        `the summary alias still names ${notBy}, which is revoked: its summaries are signed again once the replacement key is in place`,
      );
    const file = summaryFile(envelope, record.objectKey, copies);
    await deps.s3.put(deps.deploymentBucket, vsaKey(record.objectKey), `${JSON.stringify(file)}\n`);
  }

  /** Whether the copy in the deployment bucket is this record's. */
  async function isDeployed(record: ArtifactRecord): Promise<boolean> {
    const deployed = await deps.s3.head(deps.deploymentBucket, record.objectKey);
    return deployed?.metadata?.['vouch-record'] === `${record.objectKey}#${record.version}`;
  }

  /** Removes an artifact's promoted copy (VSA first), if the copy in place is this record's. */
  async function pull(record: ArtifactRecord): Promise<void> {
    if (!(await isDeployed(record))) return;
    await deps.s3.delete(deps.deploymentBucket, vsaKey(record.objectKey));
    await deps.s3.delete(deps.deploymentBucket, legacyVsaKey(record.objectKey));
    await deps.s3.delete(deps.deploymentBucket, record.objectKey);
  }

  return { promote, pull, writeSummary, isDeployed };
}

export type Promoter = ReturnType<typeof createPromoter>;
