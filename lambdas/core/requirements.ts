import { basename } from 'node:path';
import type { Attestation } from './attestation.ts';
import { checkContents, signerContext, vexStatements } from './contents.ts';
import { type Digests, digestsMatch } from './digest.ts';
import type { Reason } from './errors.ts';
import type { AttestationReport, EvaluationInput } from './evaluate.ts';
import { ANY_TYPE, ARTIFACT_SIGNATURE, type Requirement, type Rule } from './policy.ts';
import { builderIdAllowed, normaliseRepository, provenanceFacts } from './provenance.ts';
import type { SignerIdentity, VerifiedSignature } from './signatures.ts';
import type { TrustRootRef } from './trust.ts';
import type { VexStatus } from './vulnerabilities.ts';

/** An attestation after its signatures were verified: what requirements are checked against. */
export interface CheckedAttestation {
  readonly attestation: Attestation;
  /** Why it is not about this artifact; undefined when it is. */
  readonly mismatch?: Reason;
  readonly verified: readonly VerifiedSignature[];
  readonly errors: readonly Reason[];
  /** Not verified at all: about another artifact, or no requirement could allow its signer. */
  readonly skipped: boolean;
  readonly report: AttestationReport;
}

export type RequirementOutcome =
  | {
      readonly satisfied: true;
      readonly signers: readonly SignerIdentity[];
      /** The roots that verified the signatures that counted. */
      readonly trustRoots: readonly TrustRootRef[];
      /** The attestations whose signers counted. */
      readonly sources: readonly string[];
    }
  | { readonly satisfied: false; readonly refusals: readonly Reason[]; readonly waits: readonly Reason[] };

export function checkRequirement(
  rule: Rule,
  requirement: Requirement,
  checked: readonly CheckedAttestation[],
  input: EvaluationInput,
  notes: Reason[],
): RequirementOutcome {
  const typeLabel = requirement.types.includes(ANY_TYPE) ? 'signed' : requirement.types.join(' or ');
  const where = `rule ${rule.name}`;
  const ofType = checked.filter(
    ({ attestation, skipped }) => !skipped && requirementCovers(requirement, attestation),
  );

  // Distinct signers, so the same signature (or the same key signing twice) counts once toward k of n.
  const satisfied = new Map<string, SignerIdentity>();
  const counted: SignerIdentity[] = [];
  const roots: TrustRootRef[] = [];
  const sources = new Set<string>();
  const refusals: Reason[] = [];
  const curableFailures: Reason[] = [];
  const vex = requirement.vulnerabilities?.honorVex
    ? vexStatements(requirement.vulnerabilities.vexSigners, checked, input, notes)
    : new Map<string, VexStatus>();
  for (const { attestation, verified, mismatch } of ofType) {
    for (const { signer, trustRoot, signingTimes } of verified) {
      const context = signerContext(input, signer, trustRoot);
      if (!requirement.signers.some((allowed) => allowed.allows(signer, context))) {
        // A signer whose identity is allowed but whose certificate's claims are not: say which claim.
        const why = requirement.signers.map((allowed) => allowed.explain?.(signer, context)).find(Boolean);
        const root = context.instance ? `, verified under the ${context.instance} root` : '';
        const reason: Reason = {
          code: 'SIGNER_NOT_ALLOWED',
          message: `${attestation.source} is signed by ${describeSigner(signer)}${root}${why ? `, but its ${why}` : ''}; ${where} allows ${requirement.signers.map((s) => s.description).join(', ')}`,
          subject: where,
        };
        if (input.strict) refusals.push(reason);
        else notes.push(reason);
        continue;
      }
      // From here on an allowed signer speaks: what it says against the artifact is a verdict.
      if (mismatch) {
        refusals.push(mismatch);
        continue;
      }
      const problem = checkClaims(
        requirement,
        attestation,
        where,
        input.artifact.path,
        input.artifact.digests,
      );
      if (problem) {
        refusals.push(problem);
        continue;
      }
      // Conditions and gates read what an allowed signer's verified statement says, and nothing else.
      const gate = checkContents(requirement, attestation, where, input, {
        signer,
        instance: context.instance,
        signingTimes,
        vex,
      });
      if (gate) {
        (gate.curable ? curableFailures : refusals).push(gate.reason);
        continue;
      }
      satisfied.set(signerKey(signer), signer);
      counted.push(signer);
      if (trustRoot) roots.push(trustRoot);
      sources.add(attestation.source);
    }
  }
  // Every signer whose signature counted is recorded, though keys of one alias count once: a later
  // revocation of any of them must find this artifact.
  if (satisfied.size >= requirement.threshold)
    return { satisfied: true, signers: counted, sources: [...sources], trustRoots: roots };
  const waits: Reason[] = [...dedupe(curableFailures)];
  if (satisfied.size > 0 || requirement.threshold > 1) {
    waits.push({
      code: 'THRESHOLD_NOT_MET',
      message: `requires ${typeLabel} signed by ${requirement.threshold} distinct allowed signer(s); found ${satisfied.size}`,
      subject: where,
    });
  } else {
    const message =
      ofType.length === 0
        ? `requires a ${typeLabel} attestation; none was found for this artifact`
        : `requires a ${typeLabel} attestation by an allowed signer; ${ofType.length} found, none verified`;
    waits.push({ code: 'MISSING_ATTESTATION', message, subject: where });
  }
  return { satisfied: false, refusals: dedupe(refusals), waits };
}

/** What an allowed signer's statement must also say: builder, source, the artifact's name. */
function checkClaims(
  requirement: Requirement,
  attestation: Attestation,
  where: string,
  path: string | undefined,
  digests: Digests,
): Reason | undefined {
  if (attestation.kind !== 'statement') return undefined;
  if (requirement.requireSubjectName) {
    const names = path === undefined ? [] : [path, basename(path)];
    const named = attestation.statement.subject.some(
      (s) => digestsMatch(digests, s.digest) && s.name !== undefined && names.includes(s.name),
    );
    if (!named) {
      return {
        code: 'SUBJECT_MISMATCH',
        message: `${attestation.source} names this digest, but not as ${JSON.stringify(path ?? '')} or its file name; ${where} requires the name`,
        subject: where,
      };
    }
  }
  if (!requirement.builderIds && !requirement.sourceRepositories) return undefined;
  const facts = provenanceFacts(attestation.statement);
  if (requirement.builderIds) {
    const builderId = facts?.builderId;
    if (builderId === undefined || !builderIdAllowed(builderId, requirement.builderIds)) {
      return {
        code: 'BUILDER_NOT_ALLOWED',
        message: `${attestation.source} was built by ${builderId ?? `(${facts?.builderProblem ?? 'no builder ID'})`}; ${where} allows ${requirement.builderIds.join(', ')}`,
        subject: where,
      };
    }
  }
  if (requirement.sourceRepositories) {
    const allowed = new Set(requirement.sourceRepositories.map(normaliseRepository));
    const source = facts?.source;
    if (source === undefined || !allowed.has(source)) {
      return {
        code: 'SOURCE_NOT_ALLOWED',
        message: `${attestation.source} was built from ${source ?? `(${facts?.sourceProblem ?? 'no source'})`}; ${where} allows ${requirement.sourceRepositories.join(', ')}`,
        subject: where,
      };
    }
  }
  return undefined;
}

function requirementCovers(requirement: Requirement, attestation: Attestation): boolean {
  if (requirement.types.includes(ANY_TYPE)) return true;
  return attestation.kind === 'signature'
    ? requirement.types.includes(ARTIFACT_SIGNATURE)
    : requirement.types.includes(attestation.statement.predicateType);
}

/**
 * Who counts once toward a threshold: an identity, a pipeline or an alias (every key it rotated
 * through), or a key.
 */
export const signerKey = (signer: SignerIdentity) =>
  signer.kind === 'keyless'
    ? `keyless:${signer.issuer}|${signer.subjectAlternativeName}`
    : signer.pipeline
      ? `pipeline:${signer.pipeline}`
      : signer.alias
        ? `alias:${signer.alias}`
        : `key:${signer.keyId}`;

export const describeSigner = (signer: SignerIdentity) =>
  signer.kind === 'key'
    ? `key ${signer.keyId}${signer.pipeline ? ` (pipeline ${signer.pipeline})` : ''}`
    : `${signer.subjectAlternativeName} (issuer ${signer.issuer})`;

export function dedupe(reasons: readonly Reason[]): Reason[] {
  const seen = new Set<string>();
  return reasons.filter((reason) => {
    const key = `${reason.code}|${reason.subject ?? ''}|${reason.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
