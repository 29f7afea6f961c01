import type { Attestation } from './attestation.ts';
import { digestsMatch, primaryDigest } from './digest.ts';
import type { Reason } from './errors.ts';
import type { AttestationReport, EvaluationInput, SignatureReport } from './evaluate.ts';
import { keylessRootsFor, keylessSignerNobodyAllows } from './keyless.ts';
import type { KeyLookup, TrustedKey } from './keys.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import type { Requirement, Rule } from './policy.ts';
import { type CheckedAttestation, describeSigner } from './requirements.ts';
import { type VerifiedSignature, verifySignature } from './signatures.ts';
import { asTrustRootSet, DEFAULT_INSTANCE, loadNamedTrustRoot, trustRootSet } from './trust.ts';

/** A requirement of a rule that matches the artifact. */
export interface Applicable {
  readonly rule: Rule;
  readonly requirement: Requirement;
}

/**
 * Verifies every attestation gathered for an artifact that could matter: about this artifact (or beside
 * it, or handed over by a CLI user) and signed by someone an applicable requirement could allow. Each
 * signature on its own, under the roots its possible signers trust; failures are reasons, never throws.
 */
export function checkAttestations(
  input: EvaluationInput,
  applicable: readonly Applicable[],
): { checked: CheckedAttestation[]; notes: Reason[] } {
  const limits = input.limits ?? DEFAULT_LIMITS;
  const roots = input.trustRoot
    ? asTrustRootSet(input.trustRoot)
    : trustRootSet([loadNamedTrustRoot(DEFAULT_INSTANCE)]);
  const keyedRoot = roots.get(DEFAULT_INSTANCE);
  const inlineKeys = new Map<string, TrustedKey>(input.policy.inlineKeys.map((key) => [key.keyId, key]));
  const keys: KeyLookup = (hint) => inlineKeys.get(hint) ?? input.keys(hint);
  const candidateKeys = keyCandidates(applicable, keys, limits.maxKeyCandidates);
  const signers = applicable.flatMap(({ requirement }) => [
    ...requirement.signers,
    ...(requirement.vulnerabilities?.vexSigners ?? []),
  ]);
  const notes: Reason[] = [];
  const considered = input.attestations.slice(0, limits.maxAttestationsPerEvaluation);
  if (input.attestations.length > considered.length) {
    notes.push({
      code: 'LIMIT_EXCEEDED',
      message: `${input.attestations.length} attestations name this artifact; only the first ${considered.length} were considered`,
    });
  }
  const checked = considered.map((attestation): CheckedAttestation => {
    const predicateType = attestation.kind === 'statement' ? attestation.statement.predicateType : undefined;
    const report = (
      verified: boolean,
      signatures: SignatureReport[],
      reasons: Reason[],
    ): AttestationReport => ({
      source: attestation.source,
      kind: attestation.kind,
      ...(predicateType === undefined ? {} : { predicateType }),
      verified,
      signatures,
      reasons,
    });
    const skip = (reason: Reason): CheckedAttestation => ({
      attestation,
      mismatch: reason,
      verified: [],
      errors: [],
      skipped: true,
      report: report(false, [], [reason]),
    });
    const mismatch = aboutArtifact(attestation, input.artifact);
    // Cheap checks first. An attestation about other bytes is verified only where it could be a verdict:
    // beside the artifact (its own pipeline's word about it), or handed over by a CLI user. A line of a
    // JSON Lines collection about another artifact is skipped, as the in-toto bundle format intends.
    if (mismatch && (attestation.line !== undefined || !(attestation.beside || input.strict))) {
      notes.push(mismatch);
      return skip(mismatch);
    }
    const unallowed = keylessSignerNobodyAllows(attestation, signers, describeSigner);
    if (unallowed) return { ...skip(unallowed), mismatch, skipped: false };
    const context = {
      keys,
      ...(keyedRoot ? { keyedRoot } : {}),
      observedAt: attestation.observedAt ?? input.observedAt,
      candidateKeys,
    };
    const verified: VerifiedSignature[] = [];
    const signatures: SignatureReport[] = [];
    const errors: Reason[] = [];
    for (const bundle of attestation.signatures) {
      const keylessRoots = keylessRootsFor(bundle, signers, roots);
      const result = verifySignature(attestation, bundle, { ...context, keylessRoots });
      if (result.ok) {
        verified.push(result.value);
        signatures.push({
          signer: result.value.signer,
          signingTimes: result.value.signingTimes.map((time) => time.toISOString()),
          timeSource: result.value.timeSource,
          ...(result.value.trustRoot ? { trustRoot: result.value.trustRoot } : {}),
        });
      } else {
        signatures.push({ error: result.error });
        errors.push(result.error);
      }
    }
    const ok = verified.length > 0 && mismatch === undefined;
    const reasons = verified.length > 0 ? (mismatch ? [mismatch] : []) : errors;
    return {
      attestation,
      ...(mismatch ? { mismatch } : {}),
      verified,
      errors,
      skipped: false,
      report: report(ok, signatures, reasons),
    };
  });
  return { checked, notes };
}

/** Why an attestation is not about the artifact; undefined when it is. */
function aboutArtifact(attestation: Attestation, artifact: EvaluationInput['artifact']): Reason | undefined {
  const { digests } = artifact;
  if (attestation.kind === 'statement') {
    if (attestation.statement.subject.some((s) => digestsMatch(digests, s.digest))) return undefined;
    return {
      code: 'SUBJECT_MISMATCH',
      message: `no subject of the statement has digest ${primaryDigest(digests)}`,
      subject: attestation.source,
    };
  }
  if (artifact.paeShaped) {
    // A DSSE signature is the same primitive over PAE(type, payload): an envelope's signature would verify
    // as a "signature" of bytes equal to its PAE. The two kinds must never stand in for each other.
    return {
      code: 'UNSUPPORTED_FORMAT',
      message:
        'the artifact is shaped like a DSSE pre-authentication encoding; a plain signature over it is refused',
      subject: attestation.source,
    };
  }
  const { algorithm, hex } = attestation.messageDigest;
  const ours = digests[algorithm];
  if (ours === undefined) {
    return {
      code: 'DIGEST_UNAVAILABLE',
      message: `the message signature is over a ${algorithm} digest, which was not computed`,
      subject: attestation.source,
    };
  }
  if (ours === hex) return undefined;
  return {
    code: 'SUBJECT_MISMATCH',
    message: `the message signature is over ${algorithm}:${hex}, not this artifact`,
    subject: attestation.source,
  };
}

/**
 * Keys a requirement names, tried for keyed signatures whose hint names no key. Bounded: a policy may
 * list many keys, and each try is a signature verification.
 */
function keyCandidates(applicable: readonly Applicable[], keys: KeyLookup, max: number): TrustedKey[] {
  const found = new Map<string, TrustedKey>();
  for (const { requirement } of applicable) {
    for (const signer of requirement.signers) {
      if (signer.keyId === undefined || found.has(signer.keyId) || found.size >= max) continue;
      const key = keys(signer.keyId);
      if (key) found.set(key.keyId, key);
    }
  }
  return [...found.values()];
}
