import type { Attestation } from './attestation.ts';
import { formatDigests } from './digest.ts';
import type { Reason } from './errors.ts';
import type { EvaluationInput } from './evaluate.ts';
import { pipelineOwning } from './pipelines.ts';
import type { AllowedSigner, Requirement } from './policy.ts';
import { checkScan, conditionReason } from './policy-extensions.ts';
import type { CheckedAttestation } from './requirements.ts';
import type { SignerIdentity } from './signatures.ts';
import type { SignerContext } from './signers.ts';
import type { TrustRootRef } from './trust.ts';
import { OPENVEX_TYPES, readVex, type VexStatus } from './vulnerabilities.ts';

/**
 * What a requirement checks in the contents of a statement once its signature verified and its signer
 * is allowed: conditions (CEL) and the vulnerability gate, with the VEX statements allowed signers made.
 */

/** Who a verified signer is, for the policy's signer entries: where its key came from, which root. */
export function signerContext(
  input: EvaluationInput,
  signer: SignerIdentity,
  trustRoot: TrustRootRef | undefined,
): SignerContext {
  const inline = signer.kind === 'key' && input.policy.inlineKeys.some((k) => k.keyId === signer.keyId);
  const key = signer.kind === 'key' && !inline ? input.keys(signer.keyId) : undefined;
  // Which pipeline may vouch for this object key through `{ registry: true }`: null when none may.
  const owner =
    input.pipelines === undefined
      ? undefined
      : (pipelineOwning(input.pipelines, input.artifact.path ?? '')?.name ?? null);
  return {
    ...(key?.origin ? { keyOrigin: key.origin } : {}),
    ...(key?.pipeline ? { keyPipeline: key.pipeline } : {}),
    ...(key?.purpose ? { keyPurpose: key.purpose } : {}),
    ...(owner === undefined ? {} : { owner }),
    ...(signer.kind === 'keyless' && trustRoot ? { instance: trustRoot.instance } : {}),
  };
}

/** What a condition sees of a signer. */
function signerFields(signer: SignerIdentity, instance: string | undefined): Record<string, unknown> {
  return signer.kind === 'key'
    ? { kind: 'key', keyId: signer.keyId, ...(signer.alias ? { alias: signer.alias } : {}) }
    : {
        kind: 'keyless',
        issuer: signer.issuer,
        identity: signer.subjectAlternativeName,
        ...(instance ? { instance } : {}),
        claims: { ...(signer.claims ?? {}) },
      };
}

/** A requirement's conditions and vulnerability gate, on one allowed signer's verified statement. */
export function checkContents(
  requirement: Requirement,
  attestation: Attestation,
  where: string,
  input: EvaluationInput,
  by: {
    signer: SignerIdentity;
    instance: string | undefined;
    signingTimes: readonly Date[];
    vex: ReadonlyMap<string, VexStatus>;
  },
): { reason: Reason; curable: boolean } | undefined {
  if (attestation.kind !== 'statement') return undefined;
  const now = input.now ?? new Date();
  if (requirement.conditions.length > 0) {
    const conditionInput = {
      statement: attestation.statement as unknown as Record<string, unknown>,
      signer: signerFields(by.signer, by.instance),
      artifact: {
        key: input.artifact.path ?? '',
        digest: formatDigests(input.artifact.digests)[0] ?? '',
        ...(input.artifact.size === undefined ? {} : { size: input.artifact.size }),
      },
      now,
    };
    for (const condition of requirement.conditions) {
      const why = condition.evaluate(conditionInput);
      if (why !== undefined)
        return { reason: conditionReason(condition, why, attestation.source, where), curable: false };
    }
  }
  if (requirement.vulnerabilities) {
    return checkScan(requirement.vulnerabilities, attestation.statement.predicate, {
      source: attestation.source,
      where,
      signedAt: by.signingTimes,
      now,
      vex: by.vex,
    });
  }
  return undefined;
}

/**
 * What verified OpenVEX statements by allowed VEX signers say of each vulnerability ID. Unreadable ones
 * are notes: they never count.
 */
export function vexStatements(
  vexSigners: readonly AllowedSigner[],
  checked: readonly CheckedAttestation[],
  input: EvaluationInput,
  notes: Reason[],
): Map<string, VexStatus> {
  const statuses = new Map<string, VexStatus>();
  for (const { attestation, verified, mismatch, skipped } of checked) {
    if (skipped || mismatch || attestation.kind !== 'statement') continue;
    if (!OPENVEX_TYPES.includes(attestation.statement.predicateType)) continue;
    const allowed = verified.some(({ signer, trustRoot }) =>
      vexSigners.some((entry) => entry.allows(signer, signerContext(input, signer, trustRoot))),
    );
    if (!allowed) continue;
    const problem = readVex(attestation.statement.predicate, attestation.source, statuses);
    if (problem)
      notes.push({
        code: 'PARSE_ERROR',
        message: `${attestation.source} ${problem}`,
        subject: attestation.source,
      });
  }
  return statuses;
}
