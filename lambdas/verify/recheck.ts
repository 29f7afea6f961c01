import { type ArtifactRecord, decisionFields, eachIsolated, NOTES, type Reason } from '#core/index.ts';
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
    // A scan: revocations are rare, and no index is written for them on every promotion.
    const affected: ArtifactRecord[] = (await deps.records.byKeyId(keyId, ['verified', 'promoted'])).filter(
      (record) => record.keyIds?.includes(keyId),
    );
    // Each artifact on its own: one that cannot be re-checked never leaves the others promoted.
    return eachIsolated(affected, (record) => recheck(record, keyId));
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
