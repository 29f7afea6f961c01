import type { Attestation } from './attestation.ts';
import { toReason } from './attestation.ts';
import { type Digests, digestsMatch, primaryDigest } from './digest.ts';
import type { Reason } from './errors.ts';
import type { KeyLookup, TrustedKey } from './keys.ts';
import { assertSafePath } from './paths.ts';
import {
  ANY_TYPE,
  ARTIFACT_SIGNATURE,
  type Mode,
  type Policy,
  type Requirement,
  type Rule,
} from './policy.ts';
import { builderIdAllowed, normaliseRepository, provenanceFacts } from './provenance.ts';
import { type SignerIdentity, type VerifiedSignature, verifySignature } from './signatures.ts';
import { loadTrustRoot, type TrustRoot } from './trust.ts';

export interface EvaluationInput {
  readonly artifact: { readonly path?: string; readonly digests: Digests };
  /** Every attestation gathered for the artifact; those about other artifacts are reported and ignored. */
  readonly attestations: readonly Attestation[];
  /** Attestation inputs that could not be parsed. */
  readonly inputErrors?: readonly Reason[];
  readonly policy: Policy;
  readonly keys: KeyLookup;
  /** Defaults to the pinned Sigstore public-good root. */
  readonly trustRoot?: TrustRoot;
  /** Trusted time for signatures without a time of their own, unless an attestation has `observedAt`. */
  readonly observedAt: Date;
  readonly now?: Date;
  /**
   * Every supplied attestation must parse and verify (the CLI: you asked about these files). Off in the
   * pipeline, where anyone can upload junk naming a digest and junk must not veto a release.
   */
  readonly strict?: boolean;
}

export interface SignatureReport {
  readonly signer?: SignerIdentity;
  readonly signingTimes?: readonly string[];
  readonly timeSource?: VerifiedSignature['timeSource'];
  readonly error?: Reason;
}

export interface AttestationReport {
  readonly source: string;
  readonly kind: Attestation['kind'];
  readonly predicateType?: string;
  /** At least one signature verified and the statement names this artifact. */
  readonly verified: boolean;
  readonly signatures: readonly SignatureReport[];
  readonly reasons: readonly Reason[];
}

export interface Decision {
  /** The gate's answer: promote or not. In audit mode a failed verdict is still accepted (and flagged). */
  readonly accepted: boolean;
  readonly verdict: 'pass' | 'fail';
  readonly mode: Mode;
  readonly artifact: { readonly path?: string; readonly digest: string; readonly digests: Digests };
  readonly rules: readonly string[];
  /** Why the verdict is `fail`; empty on `pass`. */
  readonly reasons: readonly Reason[];
  readonly attestations: readonly AttestationReport[];
  /** Keys whose signatures satisfied a requirement (KMS key ARNs for registry keys). */
  readonly keyIds: readonly string[];
  /** Keyless identities whose signatures satisfied a requirement, as `issuer|subject`. */
  readonly identities: readonly string[];
  readonly policyDigest: string;
  readonly evaluatedAt: string;
}

interface CheckedAttestation {
  readonly attestation: Attestation;
  readonly matchesArtifact: boolean;
  readonly verified: readonly VerifiedSignature[];
  readonly report: AttestationReport;
}

/**
 * Verifies attestations for one artifact and evaluates the policy. Pure and synchronous: every input,
 * keys included, is resolved by the caller; every failure is a reason in the decision, never a throw.
 */
export function evaluate(input: EvaluationInput): Decision {
  const evaluatedAt = (input.now ?? new Date()).toISOString();
  const { policy } = input;
  const path = input.artifact.path;
  const base = {
    artifact: {
      ...(path === undefined ? {} : { path }),
      digest: primaryDigest(input.artifact.digests),
      digests: input.artifact.digests,
    },
    policyDigest: policy.digest,
    evaluatedAt,
  };
  const reject = (
    mode: Mode,
    rules: readonly string[],
    reasons: Reason[],
    attestations: AttestationReport[] = [],
  ): Decision => ({
    ...base,
    accepted: mode === 'audit',
    verdict: 'fail',
    mode,
    rules,
    reasons,
    attestations,
    keyIds: [],
    identities: [],
  });

  if (path !== undefined) {
    try {
      assertSafePath(path);
    } catch (error) {
      // A hostile key is refused whatever the mode: audit must not promote under an ambiguous name.
      return reject('enforce', [], [toReason(error)]);
    }
  }

  const rules = policy.rules.filter((rule) => rule.matches(path ?? ''));
  const mode: Mode =
    rules.length === 0 || rules.some((rule) => rule.mode === 'enforce') ? 'enforce' : 'audit';
  const checked = checkAttestations(input);
  const reports = checked.map((c) => c.report);

  if (rules.length === 0) {
    if (policy.noMatch === 'accept') {
      return {
        ...base,
        accepted: true,
        verdict: 'pass',
        mode,
        rules: [],
        reasons: [],
        attestations: reports,
        keyIds: [],
        identities: [],
      };
    }
    return reject(
      mode,
      [],
      [{ code: 'NO_MATCHING_RULE', message: `no policy rule matches ${JSON.stringify(path ?? '')}` }],
      reports,
    );
  }

  const reasons: Reason[] = [];
  if (input.strict) {
    reasons.push(...(input.inputErrors ?? []));
    for (const { report } of checked) if (!report.verified) reasons.push(...report.reasons);
  }
  const keyIds = new Set<string>();
  const identities = new Set<string>();
  for (const rule of rules) {
    for (const requirement of rule.requirements) {
      const outcome = checkRequirement(rule, requirement, checked, input.keys, policy);
      if (outcome.satisfied) {
        for (const signer of outcome.signers) {
          if (signer.kind === 'key') keyIds.add(signer.keyId);
          else identities.add(`${signer.issuer}|${signer.subjectAlternativeName}`);
        }
      } else {
        reasons.push(...outcome.reasons);
      }
    }
  }
  const names = rules.map((rule) => rule.name);
  if (reasons.length > 0) return reject(mode, names, dedupe(reasons), reports);
  return {
    ...base,
    accepted: true,
    verdict: 'pass',
    mode,
    rules: names,
    reasons: [],
    attestations: reports,
    keyIds: [...keyIds],
    identities: [...identities],
  };
}

function checkAttestations(input: EvaluationInput): CheckedAttestation[] {
  const trustRoot = input.trustRoot ?? loadTrustRoot();
  const inlineKeys = new Map<string, TrustedKey>(input.policy.inlineKeys.map((key) => [key.keyId, key]));
  const keys: KeyLookup = (hint) => inlineKeys.get(hint) ?? input.keys(hint);
  return input.attestations.map((attestation) => {
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
    // Cheap check first: an attestation about another artifact is never worth a signature verification.
    if (
      attestation.kind === 'statement' &&
      !attestation.statement.subject.some((s) => digestsMatch(input.artifact.digests, s.digest))
    ) {
      const reason: Reason = {
        code: 'SUBJECT_MISMATCH',
        message: `no subject of the statement has digest ${primaryDigest(input.artifact.digests)}`,
        subject: attestation.source,
      };
      return { attestation, matchesArtifact: false, verified: [], report: report(false, [], [reason]) };
    }
    const context = {
      keys,
      trustRoot,
      artifactDigests: input.artifact.digests,
      observedAt: attestation.observedAt ?? input.observedAt,
    };
    const verified: VerifiedSignature[] = [];
    const signatures: SignatureReport[] = [];
    const reasons: Reason[] = [];
    for (const bundle of attestation.signatures) {
      const result = verifySignature(attestation, bundle, context);
      if (result.ok) {
        verified.push(result.value);
        signatures.push({
          signer: result.value.signer,
          signingTimes: result.value.signingTimes.map((time) => time.toISOString()),
          timeSource: result.value.timeSource,
        });
      } else {
        signatures.push({ error: result.error });
        reasons.push(result.error);
      }
    }
    const matchesArtifact = !reasons.some((reason) => reason.code === 'SUBJECT_MISMATCH');
    return {
      attestation,
      matchesArtifact,
      verified,
      report: report(verified.length > 0 && matchesArtifact, signatures, verified.length > 0 ? [] : reasons),
    };
  });
}

type RequirementOutcome =
  | { readonly satisfied: true; readonly signers: readonly SignerIdentity[] }
  | { readonly satisfied: false; readonly reasons: Reason[] };

function checkRequirement(
  rule: Rule,
  requirement: Requirement,
  checked: readonly CheckedAttestation[],
  keys: KeyLookup,
  policy: Policy,
): RequirementOutcome {
  const typeLabel = requirement.types.includes(ANY_TYPE) ? 'signed' : requirement.types.join(' or ');
  const ofType = checked.filter(({ attestation }) => requirementCovers(requirement, attestation));
  const where = `rule ${rule.name}`;
  const candidates = ofType.filter((c) => c.matchesArtifact && c.verified.length > 0);
  if (candidates.length === 0) {
    const failures = ofType.flatMap((c) => c.report.reasons);
    const message =
      ofType.length === 0
        ? `requires a ${typeLabel} attestation; none was found for this artifact`
        : `requires a ${typeLabel} attestation; ${ofType.length} found, none verified`;
    return {
      satisfied: false,
      reasons: [{ code: 'MISSING_ATTESTATION', message, subject: where }, ...failures],
    };
  }

  // Distinct signers, so the same signature (or the same key signing twice) counts once toward k of n.
  const satisfied = new Map<string, SignerIdentity>();
  const problems: Reason[] = [];
  const inlineKeyIds = new Set(policy.inlineKeys.map((key) => key.keyId));
  for (const { attestation, verified } of candidates) {
    const predicateProblem =
      attestation.kind === 'statement' ? checkPredicate(requirement, attestation, where) : undefined;
    for (const { signer } of verified) {
      const origin =
        signer.kind === 'key' && !inlineKeyIds.has(signer.keyId) ? keys(signer.keyId)?.origin : undefined;
      if (!requirement.signers.some((allowed) => allowed.allows(signer, origin))) {
        problems.push({
          code: 'SIGNER_NOT_ALLOWED',
          message: `${attestation.source} is signed by ${describeSigner(signer)}; ${where} allows ${requirement.signers.map((s) => s.description).join(', ')}`,
          subject: where,
        });
        continue;
      }
      if (predicateProblem) {
        problems.push(predicateProblem);
        continue;
      }
      satisfied.set(signerKey(signer), signer);
    }
  }
  if (satisfied.size >= requirement.threshold) return { satisfied: true, signers: [...satisfied.values()] };
  const reasons = dedupe(problems);
  if (satisfied.size > 0 || requirement.threshold > 1) {
    reasons.unshift({
      code: 'THRESHOLD_NOT_MET',
      message: `requires ${typeLabel} signed by ${requirement.threshold} distinct allowed signer(s); found ${satisfied.size}`,
      subject: where,
    });
  }
  return { satisfied: false, reasons };
}

function checkPredicate(
  requirement: Requirement,
  attestation: Extract<Attestation, { kind: 'statement' }>,
  where: string,
): Reason | undefined {
  if (!requirement.builderIds && !requirement.sourceRepositories) return undefined;
  const facts = provenanceFacts(attestation.statement);
  if (requirement.builderIds) {
    const builderId = facts?.builderId;
    if (builderId === undefined || !builderIdAllowed(builderId, requirement.builderIds)) {
      return {
        code: 'BUILDER_NOT_ALLOWED',
        message: `${attestation.source} was built by ${builderId ?? '(no builder ID)'}; ${where} allows ${requirement.builderIds.join(', ')}`,
        subject: where,
      };
    }
  }
  if (requirement.sourceRepositories) {
    const allowed = new Set(requirement.sourceRepositories.map(normaliseRepository));
    const sources = facts?.sourceRepositories ?? [];
    if (!sources.some((source) => allowed.has(source))) {
      return {
        code: 'SOURCE_NOT_ALLOWED',
        message: `${attestation.source} was built from ${sources.join(', ') || '(no source)'}; ${where} allows ${requirement.sourceRepositories.join(', ')}`,
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

const signerKey = (signer: SignerIdentity) =>
  signer.kind === 'key' ? `key:${signer.keyId}` : `keyless:${signer.issuer}|${signer.subjectAlternativeName}`;

export const describeSigner = (signer: SignerIdentity) =>
  signer.kind === 'key'
    ? `key ${signer.keyId}`
    : `${signer.subjectAlternativeName} (issuer ${signer.issuer})`;

function dedupe(reasons: readonly Reason[]): Reason[] {
  const seen = new Set<string>();
  return reasons.filter((reason) => {
    const key = `${reason.code}|${reason.subject ?? ''}|${reason.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
