import { basename } from 'node:path';
import type { Attestation } from './attestation.ts';
import { toReason } from './attestation.ts';
import { type Digests, digestsMatch, primaryDigest } from './digest.ts';
import type { Reason } from './errors.ts';
import { keylessRootsFor, keylessSignerNobodyAllows } from './keyless.ts';
import { type KeyLookup, keyValidAt, type TrustedKey } from './keys.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
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
import {
  asTrustRootSet,
  DEFAULT_INSTANCE,
  loadNamedTrustRoot,
  type TrustRoot,
  type TrustRootRef,
  type TrustRootSet,
  trustRootSet,
} from './trust.ts';

export interface EvaluationInput {
  readonly artifact: { readonly path?: string; readonly digests: Digests };
  /** Every attestation gathered for the artifact; those about other artifacts are reported and ignored. */
  readonly attestations: readonly Attestation[];
  /** Attestation inputs that could not be parsed. */
  readonly inputErrors?: readonly Reason[];
  readonly policy: Policy;
  readonly keys: KeyLookup;
  /**
   * The Sigstore roots held, by instance (a bare root is the default instance's). Defaults to the pinned
   * public-good root. Keyless signatures verify under the instances their allowed signers trust; keyed
   * signatures' log entries and timestamps under the default instance's.
   */
  readonly trustRoot?: TrustRoot | TrustRootSet;
  /** Trusted time for signatures without a time of their own, unless an attestation has `observedAt`. */
  readonly observedAt: Date;
  readonly now?: Date;
  /**
   * Every supplied attestation must parse and verify (the CLI: you asked about these files). Off in the
   * pipeline, where anyone can upload junk naming a digest and junk must not veto a release.
   */
  readonly strict?: boolean;
  readonly limits?: Limits;
}

export interface SignatureReport {
  readonly signer?: SignerIdentity;
  readonly signingTimes?: readonly string[];
  readonly timeSource?: VerifiedSignature['timeSource'];
  /** The root (instance, version, digest) that verified it. */
  readonly trustRoot?: TrustRootRef;
  readonly error?: Reason;
}

export interface AttestationReport {
  readonly source: string;
  readonly kind: Attestation['kind'];
  readonly predicateType?: string;
  /** At least one signature verified and the statement names this artifact. */
  readonly verified: boolean;
  /** It satisfied a requirement: one of the attestations a promotion rests on. */
  readonly counted?: boolean;
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
  /** Why the verdict is `fail`, the root cause first; empty on `pass`. */
  readonly reasons: readonly Reason[];
  /**
   * A failed verdict that more attestations could still turn into a pass: all that is wrong is an
   * attestation or a co-signer not there yet. Anything an allowed signer said against the artifact, a
   * refused path, or no matching rule, is final.
   */
  readonly curable: boolean;
  /**
   * What was gathered and did not count, and why: attestations about other artifacts, signatures that
   * did not verify, signers the policy does not allow. Anyone can upload these; they never decide.
   */
  readonly notes: readonly Reason[];
  /**
   * Failures of audit-mode rules where an enforce rule decides: recorded and flagged, never a rejection,
   * so trialling a requirement in audit mode never stops a release.
   */
  readonly auditReasons?: readonly Reason[];
  readonly attestations: readonly AttestationReport[];
  /** Keys whose signatures satisfied a requirement (KMS key ARNs for registry keys). */
  readonly keyIds: readonly string[];
  /** Keyless identities whose signatures satisfied a requirement, as `issuer|subject`. */
  readonly identities: readonly string[];
  /**
   * The Sigstore roots (instance, source, TUF versions, digest) that verified the signatures that
   * satisfied a requirement; each signature's own is in its report.
   */
  readonly trustRoots?: readonly TrustRootRef[];
  readonly policyDigest: string;
  readonly evaluatedAt: string;
}

interface CheckedAttestation {
  readonly attestation: Attestation;
  /** Why it is not about this artifact; undefined when it is. */
  readonly mismatch?: Reason;
  readonly verified: readonly VerifiedSignature[];
  readonly errors: readonly Reason[];
  /** Not verified at all: about another artifact, or no requirement could allow its signer. */
  readonly skipped: boolean;
  readonly report: AttestationReport;
}

interface Applicable {
  readonly rule: Rule;
  readonly requirement: Requirement;
}

/**
 * Verifies attestations for one artifact and evaluates the policy. Pure and synchronous: every input,
 * keys included, is resolved by the caller; every failure is a reason in the decision, never a throw.
 *
 * Who may decide: only a signature that verifies, by a signer a requirement allows, counts for or
 * against an artifact. Everything else is a note, since anyone who can upload can write it.
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
    keyIds: [],
    identities: [],
  };
  const reject = (
    mode: Mode,
    rules: readonly string[],
    reasons: readonly Reason[],
    extra: { notes?: readonly Reason[]; attestations?: readonly AttestationReport[]; curable?: boolean } = {},
  ): Decision => ({
    ...base,
    accepted: mode === 'audit',
    verdict: 'fail',
    mode,
    rules,
    reasons,
    curable: extra.curable ?? false,
    notes: extra.notes ?? [],
    attestations: extra.attestations ?? [],
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
  const applicable = rules.flatMap((rule) => rule.requirements.map((requirement) => ({ rule, requirement })));
  const { checked, notes } = checkAttestations(input, applicable);
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
        curable: false,
        notes,
        attestations: reports,
      };
    }
    return reject(
      mode,
      [],
      [{ code: 'NO_MATCHING_RULE', message: `no policy rule matches ${JSON.stringify(path ?? '')}` }],
      { notes, attestations: reports },
    );
  }

  const strictReasons: Reason[] = [];
  if (input.strict) {
    strictReasons.push(...(input.inputErrors ?? []));
    for (const c of checked) if (!c.skipped && !c.report.verified) strictReasons.push(...c.report.reasons);
  } else {
    notes.push(...(input.inputErrors ?? []));
    for (const c of checked) if (!c.skipped && !c.report.verified) notes.push(...c.report.reasons);
  }
  const keyIds = new Set<string>();
  const identities = new Set<string>();
  const countedSources = new Set<string>();
  const trustRoots = new Map<string, TrustRootRef>();
  // Each rule has its own verdict. Rules of the decision's mode decide (enforce, where one matches); the
  // failures of audit rules beside an enforce rule are recorded and flagged, and never reject.
  const failures = { refusals: [] as Reason[], waits: [] as Reason[] };
  const auditReasons: Reason[] = [];
  for (const { rule, requirement } of applicable) {
    const outcome = checkRequirement(rule, requirement, checked, input, notes);
    if (outcome.satisfied) {
      for (const signer of outcome.signers) {
        if (signer.kind === 'key') keyIds.add(signer.keyId);
        else identities.add(`${signer.issuer}|${signer.subjectAlternativeName}`);
      }
      for (const source of outcome.sources) countedSources.add(source);
      for (const root of outcome.trustRoots) trustRoots.set(`${root.instance}|${root.digest ?? ''}`, root);
    } else if (rule.mode === mode) {
      failures.refusals.push(...outcome.refusals);
      failures.waits.push(...outcome.waits);
    } else {
      auditReasons.push(...outcome.refusals, ...outcome.waits);
    }
  }
  const names = rules.map((rule) => rule.name);
  const reasons = dedupe([...strictReasons, ...failures.refusals, ...failures.waits]);
  const verdict = reasons.length > 0 ? 'fail' : 'pass';
  return {
    ...base,
    accepted: mode === 'audit' || verdict === 'pass',
    verdict,
    mode,
    rules: names,
    reasons,
    curable: verdict === 'fail' && strictReasons.length === 0 && failures.refusals.length === 0,
    ...(auditReasons.length > 0 ? { auditReasons: dedupe(auditReasons) } : {}),
    notes: dedupe(notes),
    attestations: reports.map((report) =>
      countedSources.has(report.source) ? { ...report, counted: true } : report,
    ),
    keyIds: [...keyIds],
    identities: [...identities],
    ...(trustRoots.size > 0 ? { trustRoots: [...trustRoots.values()] } : {}),
  };
}

/**
 * Whether every key signature an accepted decision rests on is still valid at its signing times under
 * `keys` as they are now: a decision made from a cache is confirmed against a fresh read before the
 * artifact is promoted, so a revocation written meanwhile is never outrun.
 */
export function keySignaturesStillValid(decision: Decision, keys: KeyLookup): boolean {
  const relied = new Set(decision.keyIds);
  for (const attestation of decision.attestations) {
    if (!attestation.counted) continue;
    for (const signature of attestation.signatures) {
      const signer = signature.signer;
      if (signer?.kind !== 'key' || !relied.has(signer.keyId)) continue;
      const key = keys(signer.keyId);
      if (!key) return false;
      for (const time of signature.signingTimes ?? [])
        if (!keyValidAt(key, new Date(time)).valid) return false;
    }
  }
  return true;
}

function checkAttestations(
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
  const signers = applicable.flatMap(({ requirement }) => requirement.signers);
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
    const mismatch = aboutArtifact(attestation, input.artifact.digests);
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

/** Why an attestation is not about the artifact with these digests; undefined when it is. */
function aboutArtifact(attestation: Attestation, digests: Digests): Reason | undefined {
  if (attestation.kind === 'statement') {
    if (attestation.statement.subject.some((s) => digestsMatch(digests, s.digest))) return undefined;
    return {
      code: 'SUBJECT_MISMATCH',
      message: `no subject of the statement has digest ${primaryDigest(digests)}`,
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

type RequirementOutcome =
  | {
      readonly satisfied: true;
      readonly signers: readonly SignerIdentity[];
      /** The roots that verified the signatures that counted. */
      readonly trustRoots: readonly TrustRootRef[];
      /** The attestations whose signers counted. */
      readonly sources: readonly string[];
    }
  | { readonly satisfied: false; readonly refusals: readonly Reason[]; readonly waits: readonly Reason[] };

function checkRequirement(
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
  const inlineKeyIds = new Set(input.policy.inlineKeys.map((key) => key.keyId));

  // Distinct signers, so the same signature (or the same key signing twice) counts once toward k of n.
  const satisfied = new Map<string, SignerIdentity>();
  const counted: SignerIdentity[] = [];
  const roots: TrustRootRef[] = [];
  const sources = new Set<string>();
  const refusals: Reason[] = [];
  for (const { attestation, verified, mismatch } of ofType) {
    for (const { signer, trustRoot } of verified) {
      const keyOrigin =
        signer.kind === 'key' && !inlineKeyIds.has(signer.keyId)
          ? input.keys(signer.keyId)?.origin
          : undefined;
      const context = {
        ...(keyOrigin ? { keyOrigin } : {}),
        ...(signer.kind === 'keyless' && trustRoot ? { instance: trustRoot.instance } : {}),
      };
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
  const waits: Reason[] = [];
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

/** Who counts once toward a threshold: an identity, an alias (every key it rotated through), or a key. */
const signerKey = (signer: SignerIdentity) =>
  signer.kind === 'keyless'
    ? `keyless:${signer.issuer}|${signer.subjectAlternativeName}`
    : signer.alias
      ? `alias:${signer.alias}`
      : `key:${signer.keyId}`;

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
