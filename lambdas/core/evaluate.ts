// Over ~300 lines on purpose: one evaluation from attestations to a decision (per-rule verdicts,
// exceptions, notes); splitting it would spread one invariant (junk never vetoes) over several files.
import type { Attestation } from './attestation.ts';
import { toReason } from './attestation.ts';
import { type Digests, primaryDigest } from './digest.ts';
import type { Reason } from './errors.ts';
import { type KeyLookup, keyValidAt } from './keys.ts';
import type { Limits } from './limits.ts';
import { assertSafePath } from './paths.ts';
import type { PipelineScope } from './pipelines.ts';
import type { Mode, Policy, Rule } from './policy.ts';
import type { ExceptionUse } from './policy-extensions.ts';
import { checkRequirement, dedupe } from './requirements.ts';
import type { SignerIdentity, VerifiedSignature } from './signatures.ts';
import type { TrustRoot, TrustRootRef, TrustRootSet } from './trust.ts';
import { checkAttestations } from './verify-attestations.ts';

export interface EvaluationInput {
  readonly artifact: {
    readonly path?: string;
    readonly digests: Digests;
    /** Its size in bytes, for conditions (`artifact.size`). */
    readonly size?: number;
    /** Its bytes start as a DSSE PAE does: message signatures over it are refused (see Digester). */
    readonly paeShaped?: boolean;
  };
  /** Every attestation gathered for the artifact; those about other artifacts are reported and ignored. */
  readonly attestations: readonly Attestation[];
  /** Attestation inputs that could not be parsed. */
  readonly inputErrors?: readonly Reason[];
  readonly policy: Policy;
  readonly keys: KeyLookup;
  /**
   * Who owns which object keys: `{ registry: true }` then counts only the keys of the pipeline whose
   * scope holds the artifact's path. Without it (`vouch verify`), every registry key is in scope.
   */
  readonly pipelines?: readonly PipelineScope[];
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
  /** The signed policy bundle's version; absent for a policy file read directly. */
  readonly policyVersion?: number;
  /** Exceptions in force that waived failures of the rules they name: recorded, and in the VSA. */
  readonly exceptions?: readonly ExceptionUse[];
  readonly evaluatedAt: string;
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
    ...(policy.version === undefined ? {} : { policyVersion: policy.version }),
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

  const now = input.now ?? new Date();
  const rules = policy.rules.filter((rule) => rule.matches(path ?? ''));
  const modeOf = (rule: Rule): Mode =>
    rule.enforceFrom && now.getTime() < rule.enforceFrom.getTime() ? 'audit' : rule.mode;
  const mode: Mode =
    rules.length === 0 || rules.some((rule) => modeOf(rule) === 'enforce') ? 'enforce' : 'audit';
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
  const waivedBy = activeExceptions(policy, rules, path ?? '', input.artifact.digests, now, notes);
  const exceptions = new Map<string, ExceptionUse>();
  for (const { rule, requirement } of applicable) {
    const outcome = checkRequirement(rule, requirement, checked, input, notes);
    if (outcome.satisfied) {
      for (const signer of outcome.signers) {
        if (signer.kind === 'key') keyIds.add(signer.keyId);
        else identities.add(`${signer.issuer}|${signer.subjectAlternativeName}`);
      }
      for (const source of outcome.sources) countedSources.add(source);
      for (const root of outcome.trustRoots) trustRoots.set(`${root.instance}|${root.digest ?? ''}`, root);
      continue;
    }
    const exception = waivedBy.get(rule.name);
    if (exception) {
      // Waived, not forgotten: the decision and the VSA say what was waived, by whose approval.
      const use = exceptions.get(rule.name) ?? {
        rule: rule.name,
        reason: exception.reason,
        approvedBy: exception.approvedBy,
        expiresAt: exception.expiresAt.toISOString(),
        waived: [],
      };
      exceptions.set(rule.name, {
        ...use,
        waived: dedupe([...use.waived, ...outcome.refusals, ...outcome.waits]),
      });
    } else if (modeOf(rule) === mode) {
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
    // A reason already stated is not repeated as a note (a tampered build's SUBJECT_MISMATCH, say).
    notes: dedupe([...reasons, ...notes]).slice(reasons.length),
    attestations: reports.map((report) =>
      countedSources.has(report.source) ? { ...report, counted: true } : report,
    ),
    keyIds: [...keyIds],
    identities: [...identities],
    ...(trustRoots.size > 0 ? { trustRoots: [...trustRoots.values()] } : {}),
    ...(exceptions.size > 0 ? { exceptions: [...exceptions.values()] } : {}),
  };
}

/**
 * The exception in force for each matching rule it names; those that would apply but have expired are
 * noted, and never waive anything.
 */
function activeExceptions(
  policy: Policy,
  rules: readonly Rule[],
  path: string,
  digests: EvaluationInput['artifact']['digests'],
  now: Date,
  notes: Reason[],
): Map<string, Policy['exceptions'][number]> {
  const active = new Map<string, Policy['exceptions'][number]>();
  for (const exception of policy.exceptions) {
    if (!exception.covers(path, digests)) continue;
    const named = rules.filter(
      (rule) => exception.rules.includes('*') || exception.rules.includes(rule.name),
    );
    if (named.length === 0) continue;
    if (exception.expiresAt.getTime() <= now.getTime()) {
      notes.push({
        code: 'EXCEPTION_EXPIRED',
        message: `exception ${exception.index} (${exception.reason}, approved by ${exception.approvedBy}) expired at ${exception.expiresAt.toISOString()}; not applied`,
      });
      continue;
    }
    for (const rule of named) if (!active.has(rule.name)) active.set(rule.name, exception);
  }
  return active;
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

export { describeSigner } from './requirements.ts';
