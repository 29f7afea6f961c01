import { type Digests, digestsMatch } from './digest.ts';
import type { Reason } from './errors.ts';
import type { Decision } from './evaluate.ts';
import { isRecord } from './json.ts';
import { STATEMENT_V1, type Statement } from './statement.ts';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const VOUCH_VERIFIER_ID = 'https://github.com/vouch-dev/vouch/verifier/v1';

export interface VsaInput {
  readonly decision: Decision;
  /** Where the verified bytes came from, e.g. s3://staging/releases/app.tar.gz?versionId=… */
  readonly resourceUri: string;
  /** The key the artifact is promoted to, named as the VSA subject. */
  readonly subjectName: string;
  readonly inputAttestations: readonly {
    readonly uri: string;
    readonly digest: Readonly<Record<string, string>>;
  }[];
}

/**
 * A SLSA Verification Summary Attestation for a decision: what was verified, against which policy,
 * with what result. Deployers verify it (and that the bytes they fetched match its subject) instead of
 * re-running the whole verification.
 */
export function verificationSummary({
  decision,
  resourceUri,
  subjectName,
  inputAttestations,
}: VsaInput): Statement {
  const policyHex = decision.policyDigest.replace(/^sha256:/, '');
  return {
    _type: STATEMENT_V1,
    subject: [{ name: subjectName, digest: { ...decision.artifact.digests } }],
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: VOUCH_VERIFIER_ID },
      timeVerified: decision.evaluatedAt,
      resourceUri,
      policy: { uri: `vouch:policy/${decision.rules.join(',')}`, digest: { sha256: policyHex } },
      inputAttestations,
      verificationResult: decision.verdict === 'pass' ? 'PASSED' : 'FAILED',
      // A policy is not mapped to SLSA levels: claiming one Vouch did not check would be a false statement.
      verifiedLevels: [],
      slsaVersion: '1.0',
      // Not in the VSA schema's required fields; deployers can see why an audit-mode artifact was let through.
      vouch: {
        mode: decision.mode,
        accepted: decision.accepted,
        keyIds: decision.keyIds,
        identities: decision.identities,
        ...(decision.trustRoots ? { trustRoots: decision.trustRoots } : {}),
        ...(decision.auditReasons ? { auditReasons: decision.auditReasons } : {}),
        ...(decision.exceptions ? { exceptions: decision.exceptions } : {}),
        ...(decision.policyVersion === undefined ? {} : { policyVersion: decision.policyVersion }),
      },
    },
  };
}

/**
 * What a deployer checks in a VSA whose signature verified, beyond its signature: that it was issued for
 * exactly this object key (a summary and artifact copied under another key prove nothing there), for
 * these bytes, with a PASSED result (FAILED only where audit-mode artifacts are explicitly allowed).
 */
export function verificationSummaryProblems(
  statement: Statement,
  expected: { readonly key: string; readonly digests: Digests; readonly allowAudit?: boolean },
): Reason[] {
  if (statement.predicateType !== VSA_PREDICATE_TYPE) {
    return [
      { code: 'UNSUPPORTED_FORMAT', message: `not a verification summary: ${statement.predicateType}` },
    ];
  }
  const problems: Reason[] = [];
  const named = statement.subject.filter((subject) => subject.name === expected.key);
  if (named.length === 0) {
    const names = statement.subject.map((subject) => JSON.stringify(subject.name ?? '')).join(', ');
    problems.push({
      code: 'SUBJECT_MISMATCH',
      message: `the summary was issued for ${names}, not ${JSON.stringify(expected.key)}`,
    });
  } else if (!named.some((subject) => digestsMatch(expected.digests, subject.digest))) {
    problems.push({ code: 'SUBJECT_MISMATCH', message: `the summary names other bytes for ${expected.key}` });
  }
  const predicate = isRecord(statement.predicate) ? statement.predicate : {};
  const resource = typeof predicate.resourceUri === 'string' ? predicate.resourceUri : '';
  if (!resource.startsWith('s3://') || !resource.endsWith(`/${expected.key}`)) {
    problems.push({
      code: 'SUBJECT_MISMATCH',
      message: `the summary verified ${JSON.stringify(resource)}, not an object at ${JSON.stringify(expected.key)}`,
    });
  }
  const result = predicate.verificationResult;
  if (result !== 'PASSED' && !(result === 'FAILED' && expected.allowAudit)) {
    problems.push({
      code: 'VERIFICATION_FAILED',
      message:
        result === 'FAILED'
          ? 'the summary says FAILED: promoted in audit mode; refused without --allow-audit'
          : `the summary's result is ${JSON.stringify(result)}, not PASSED`,
    });
  }
  return problems;
}
