import { MAX_SUMMARY_BYTES } from '#adapters/deployer.ts';
import { isMissing } from '#adapters/s3-store.ts';
import {
  type ArtifactRecord,
  decisionFields,
  eachIsolated,
  NOTES,
  parseAttestationFile,
  type Reason,
  readSummaryFile,
  vsaKey,
} from '#core/index.ts';
import { type Assessment, type Assessor, artifactOf } from './assess.ts';
import type { Outcome, StepContext } from './context.ts';
import type { Promoter } from './promote.ts';

/**
 * After a key's revocation: every verified or promoted artifact that one of its signatures vouched for
 * is assessed again against the registry as it is now. Signatures made before the effective time still
 * count; if what is left no longer satisfies the policy, the artifact is pulled from the deployment
 * bucket (its VSA first, so no deployer can verify it any more) and only then recorded as quarantined,
 * so a crash in between leaves it to be pulled again, never recorded as pulled while still there.
 */
export function createRecheck({ deps, now }: StepContext, assessor: Assessor, promoter: Promoter) {
  async function recheckKey(keyId: string): Promise<Outcome[]> {
    deps.keys.invalidate([keyId]);
    await deps.keys.refresh([keyId]);
    if (deps.keys.lookup(keyId)?.purpose === 'vsa') return resignSummaries(keyId);
    // A scan: revocations are rare, and no index is written for them on every promotion.
    const affected: ArtifactRecord[] = (await deps.records.byKeyId(keyId, ['verified', 'promoted'])).filter(
      (record) => record.keyIds?.includes(keyId),
    );
    // Each artifact on its own: one that cannot be re-checked never leaves the others promoted.
    return eachIsolated(affected, (record) => recheck(record, keyId));
  }

  /**
   * After a summary (VSA) key's revocation: every promoted artifact whose summary it signed gets a new
   * one, signed through the summary alias by the current key (deployers refuse a summary whose key was
   * revoked when it was written). The artifact is assessed again from the registry as it is now; one
   * that no longer passes is pulled, as after a signing key's revocation.
   */
  async function resignSummaries(keyId: string): Promise<Outcome[]> {
    const promoted = await deps.records.inStatus(['promoted']);
    return eachIsolated(promoted, async (record): Promise<Outcome> => {
      const unchanged: Outcome = { objectKey: record.objectKey, kind: 'artifact', status: record.status };
      if (!(await promoter.isDeployed(record)) || (await summarySigner(record)) !== keyId) return unchanged;
      const assessment = await assessor.assess(artifactOf(record));
      if (!assessment.decision.accepted) return recheck(record, keyId);
      await promoter.writeSummary(record, assessment.decision, assessment.inputs, keyId);
      await deps.records.annotate(
        record.objectKey,
        record.version,
        record.status,
        { updatedAt: now().toISOString() },
        NOTES.summaryResigned(keyId),
      );
      return unchanged;
    });
  }

  /** The key that signed the summary now beside a promoted artifact (its envelope's keyid). */
  async function summarySigner(record: ArtifactRecord): Promise<string | undefined> {
    let read: Awaited<ReturnType<typeof deps.s3.readSmall>>;
    try {
      read = await deps.s3.readSmall(deps.deploymentBucket, vsaKey(record.objectKey), MAX_SUMMARY_BYTES);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if ('tooLarge' in read) return undefined;
    let envelope: string;
    try {
      ({ envelope } = readSummaryFile(read.content, vsaKey(record.objectKey)));
    } catch {
      return undefined; // Not a summary any deployer accepts: nothing of the revoked key's to replace.
    }
    const [attestation] = parseAttestationFile(envelope, vsaKey(record.objectKey)).attestations;
    const material = attestation?.signatures[0]?.verificationMaterial.content;
    return material?.$case === 'publicKey' ? material.publicKey.hint : undefined;
  }

  async function recheck(record: ArtifactRecord, keyId: string): Promise<Outcome> {
    const assessment = await assessor.assess(artifactOf(record));
    const { decision } = assessment;
    if (decision.accepted && decision.verdict === 'pass')
      return {
        objectKey: record.objectKey,
        kind: 'artifact',
        status: record.status,
        reasons: decision.reasons,
      };
    if (decision.accepted) return reflag(record, assessment, keyId);
    await promoter.pull(record);
    const reasons: Reason[] = [
      { code: 'KEY_REVOKED', message: `re-checked after the revocation of ${keyId}; pulled from deployment` },
      ...decision.reasons,
    ];
    const moved = await deps.records.transition(
      record.objectKey,
      record.version,
      'quarantined',
      { ...decisionFields(decision), reasons, updatedAt: now().toISOString() },
      NOTES.revoked(keyId),
    );
    const status = moved
      ? 'quarantined'
      : ((await deps.records.get(record.objectKey, record.version))?.status ?? 'quarantined');
    return { objectKey: record.objectKey, kind: 'artifact', status, reasons };
  }

  /**
   * An audit-mode artifact whose verdict a revocation turned to fail stays where it is (audit mode never
   * blocks), but its summary is re-issued FAILED, so deployers refuse it without --allow-audit, and its
   * record is flagged with why.
   */
  async function reflag(
    record: ArtifactRecord,
    { decision, inputs }: Assessment,
    keyId: string,
  ): Promise<Outcome> {
    const reasons: Reason[] = [
      { code: 'KEY_REVOKED', message: `re-checked after the revocation of ${keyId}: audit verdict now fail` },
      ...decision.reasons,
    ];
    if (await promoter.isDeployed(record)) await promoter.writeSummary(record, decision, inputs);
    await deps.records.annotate(
      record.objectKey,
      record.version,
      record.status,
      { ...decisionFields(decision), reasons, flagged: true, updatedAt: now().toISOString() },
      NOTES.auditNowFails(keyId),
    );
    return { objectKey: record.objectKey, kind: 'artifact', status: record.status, reasons };
  }

  return { recheckKey };
}
