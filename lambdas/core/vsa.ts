// Over ~300 lines on purpose: writing a summary and the deployer's checks of one (entry, validity,
// attestation copies) must agree field by field, so both are here.
import { createHash } from 'node:crypto';
import { type Digests, digestsMatch } from './digest.ts';
import { type Reason, VouchError } from './errors.ts';
import type { Decision } from './evaluate.ts';
import { isRecord, parseJson } from './json.ts';
import { STATEMENT_V1, type Statement } from './statement.ts';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const VOUCH_VERIFIER_ID = 'https://github.com/vouch-dev/vouch/verifier/v1';

/**
 * One promoted artifact's part of a verification summary: what was verified, from where, against which
 * policy, with what result. A summary signs the entries of every artifact a batch promotes at once.
 */
export interface SummaryEntry {
  /** The object key the artifact is promoted to: the statement's subject name. */
  readonly name: string;
  readonly digests: Digests;
  /** Where the verified bytes came from, e.g. s3://staging/releases/app.tar.gz. */
  readonly resourceUri: string;
  readonly verificationResult: 'PASSED' | 'FAILED';
  readonly policyDigest: string;
  readonly rules: readonly string[];
  readonly timeVerified: string;
  readonly inputAttestations: readonly InputAttestation[];
  readonly mode: Decision['mode'];
  readonly accepted: boolean;
  readonly keyIds: readonly string[];
  readonly identities: readonly string[];
  readonly trustRoots?: Decision['trustRoots'];
  readonly auditReasons?: readonly Reason[];
  /** Policy exceptions the verdict used, and the signed policy's version, when the policy has them. */
  readonly exceptions?: Decision['exceptions'];
  readonly policyVersion?: number;
}

export interface InputAttestation {
  readonly uri: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface VsaInput {
  readonly decision: Decision;
  /** Where the verified bytes came from, e.g. s3://staging/releases/app.tar.gz */
  readonly resourceUri: string;
  /** The key the artifact is promoted to, named as the VSA subject. */
  readonly subjectName: string;
  readonly inputAttestations: readonly InputAttestation[];
}

/** An artifact's entry, from its decision. */
export function summaryEntry({
  decision,
  resourceUri,
  subjectName,
  inputAttestations,
}: VsaInput): SummaryEntry {
  return {
    name: subjectName,
    digests: { ...decision.artifact.digests },
    resourceUri,
    verificationResult: decision.verdict === 'pass' ? 'PASSED' : 'FAILED',
    policyDigest: decision.policyDigest,
    rules: decision.rules,
    timeVerified: decision.evaluatedAt,
    inputAttestations,
    mode: decision.mode,
    accepted: decision.accepted,
    keyIds: decision.keyIds,
    identities: decision.identities,
    ...(decision.trustRoots ? { trustRoots: decision.trustRoots } : {}),
    ...(decision.auditReasons ? { auditReasons: decision.auditReasons } : {}),
    ...(decision.exceptions ? { exceptions: decision.exceptions } : {}),
    ...(decision.policyVersion === undefined ? {} : { policyVersion: decision.policyVersion }),
  };
}

/** Entries that can share one statement: its result and policy are the statement's. */
export const summaryGroup = (entry: SummaryEntry) => `${entry.verificationResult} ${entry.policyDigest}`;

export interface SummaryValidity {
  /** When the summary is signed: its `timeVerified`, and the start of its validity. */
  readonly issuedAt: Date;
  /** The end of its validity: deployers refuse it afterwards (`VSA_EXPIRED`). */
  readonly validUntil: Date;
  /** The statement's `resourceUri`: the staging bucket the batch's artifacts were verified in. */
  readonly resourceUri: string;
}

/**
 * A SLSA Verification Summary Attestation over a batch of artifacts of one result and one policy: every
 * artifact is a subject (name = object key, digest = the bytes promoted), so one signature covers the
 * batch, and each artifact's own details are its entry in `predicate.vouch.artifacts`. The statement is
 * valid until `vouch.validUntil`. Deployers verify it (and that the bytes they fetched are a subject
 * under the key they asked for) instead of re-running the whole verification.
 */
export function verificationSummary(entries: readonly SummaryEntry[], validity: SummaryValidity): Statement {
  const [first] = entries;
  if (!first) throw new Error('a verification summary needs at least one artifact');
  const names = new Set<string>();
  for (const entry of entries) {
    if (summaryGroup(entry) !== summaryGroup(first))
      throw new Error('one verification summary holds artifacts of one result and one policy');
    if (names.has(entry.name)) throw new Error(`${entry.name} twice in one verification summary`);
    names.add(entry.name);
  }
  const inputs = new Map<string, InputAttestation>();
  for (const entry of entries)
    for (const input of entry.inputAttestations)
      inputs.set(`${input.uri}#${JSON.stringify(input.digest)}`, input);
  return {
    _type: STATEMENT_V1,
    subject: entries.map((entry) => ({ name: entry.name, digest: { ...entry.digests } })),
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: VOUCH_VERIFIER_ID },
      timeVerified: validity.issuedAt.toISOString(),
      resourceUri: validity.resourceUri,
      policy: { uri: 'vouch:policy', digest: { sha256: first.policyDigest.replace(/^sha256:/, '') } },
      inputAttestations: [...inputs.values()],
      verificationResult: first.verificationResult,
      // A policy is not mapped to SLSA levels: claiming one Vouch did not check would be a false statement.
      verifiedLevels: [],
      slsaVersion: '1.0',
      // Not in the VSA schema (parsers ignore unknown fields): the validity period, and per artifact the
      // rules, mode, keys and identities its verdict rested on (why an audit-mode artifact was let through).
      vouch: {
        validUntil: validity.validUntil.toISOString(),
        artifacts: entries,
      },
    },
  };
}

/** The DSSE envelope (as slsa-verifier's verify-vsa and in-toto tools read it) of a signed summary. */
export interface SummaryEnvelope {
  readonly payloadType: string;
  readonly payload: string;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

/** A copy of an input attestation, carried beside the summary for deployers who want the evidence. */
export interface AttestationCopy extends InputAttestation {
  /** The attestation file's bytes, base64. */
  readonly content: string;
}

/**
 * The file beside a promoted artifact (`KEY.vsa.dsse.json`): the batch's DSSE envelope as is — the fields
 * a DSSE reader takes — and, under `vouch`, which subject this file is for and copies of the attestations
 * its verdict rests on. One object, so a promotion writes the summary and its evidence in one request.
 */
export interface SummaryFile extends SummaryEnvelope {
  readonly vouch: { readonly artifact: string; readonly attestations: readonly AttestationCopy[] };
}

/** An attestation file's copy: its digest, which the summary's entry lists, and its bytes. */
export const attestationCopy = (uri: string, content: Buffer): AttestationCopy => ({
  uri,
  digest: { sha256: createHash('sha256').update(content).digest('hex') },
  content: content.toString('base64'),
});

export function summaryFile(
  envelope: SummaryEnvelope,
  artifact: string,
  attestations: readonly AttestationCopy[],
): SummaryFile {
  return {
    payloadType: envelope.payloadType,
    payload: envelope.payload,
    signatures: envelope.signatures,
    vouch: { artifact, attestations },
  };
}

/** The entry a summary holds for one object key, if exactly one. */
export function summaryEntryFor(statement: Statement, key: string): Record<string, unknown> | undefined {
  const predicate = isRecord(statement.predicate) ? statement.predicate : {};
  const vouch = isRecord(predicate.vouch) ? predicate.vouch : {};
  const artifacts = Array.isArray(vouch.artifacts) ? vouch.artifacts : [];
  const matching = artifacts.filter((entry) => isRecord(entry) && entry.name === key);
  return matching.length === 1 ? (matching[0] as Record<string, unknown>) : undefined;
}

/**
 * What a deployer checks in a VSA whose signature verified, beyond its signature: that it was issued for
 * exactly this object key (a summary and artifact copied under another key prove nothing there), for
 * these bytes, with a PASSED result (FAILED only where audit-mode artifacts are explicitly allowed), and
 * that it is still valid at `now`: a summary is evidence of a verification at one time, and an old one
 * replayed (kept from before a revocation, say) must stop counting.
 */
export function verificationSummaryProblems(
  statement: Statement,
  expected: {
    readonly key: string;
    readonly digests: Digests;
    readonly allowAudit?: boolean;
    readonly now: Date;
  },
): Reason[] {
  if (statement.predicateType !== VSA_PREDICATE_TYPE) {
    return [
      { code: 'UNSUPPORTED_FORMAT', message: `not a verification summary: ${statement.predicateType}` },
    ];
  }
  const problems: Reason[] = [];
  const named = statement.subject.filter((subject) => subject.name === expected.key);
  if (named.length === 0) {
    const names = statement.subject.map((subject) => JSON.stringify(subject.name ?? ''));
    const shown =
      names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    problems.push({
      code: 'SUBJECT_MISMATCH',
      message: `the summary was issued for ${shown}, not ${JSON.stringify(expected.key)}`,
    });
  } else if (named.length > 1 || !named.some((subject) => digestsMatch(expected.digests, subject.digest))) {
    problems.push({ code: 'SUBJECT_MISMATCH', message: `the summary names other bytes for ${expected.key}` });
  }
  const predicate = isRecord(statement.predicate) ? statement.predicate : {};
  const entry = summaryEntryFor(statement, expected.key);
  const resource = typeof entry?.resourceUri === 'string' ? entry.resourceUri : '';
  if (named.length > 0 && (!resource.startsWith('s3://') || !resource.endsWith(`/${expected.key}`))) {
    problems.push({
      code: 'SUBJECT_MISMATCH',
      message: entry
        ? `the summary verified ${JSON.stringify(resource)}, not an object at ${JSON.stringify(expected.key)}`
        : `the summary holds no single entry for ${JSON.stringify(expected.key)}`,
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
  const expiry = expiryProblem(predicate, expected.now);
  if (expiry) problems.push(expiry);
  return problems;
}

function expiryProblem(predicate: Readonly<Record<string, unknown>>, now: Date): Reason | undefined {
  const vouch = isRecord(predicate.vouch) ? predicate.vouch : {};
  const validUntil = typeof vouch.validUntil === 'string' ? Date.parse(vouch.validUntil) : Number.NaN;
  if (Number.isNaN(validUntil)) {
    return {
      code: 'VSA_EXPIRED',
      message:
        'the summary carries no validity period (vouch.validUntil): issued before summaries expired, or not by Vouch; promote the artifact again',
    };
  }
  if (now.getTime() > validUntil) {
    return {
      code: 'VSA_EXPIRED',
      message: `the summary expired at ${new Date(validUntil).toISOString()} (now ${now.toISOString()}): promote the artifact again for a new one`,
    };
  }
  return undefined;
}

/** A summary file as read back: its envelope (to verify as any DSSE envelope) and what it carries. */
export interface ReadSummaryFile {
  /** The envelope alone, as JSON: what the signature check reads. */
  readonly envelope: string;
  readonly attestations: readonly AttestationCopy[];
}

/**
 * Splits a summary file into its envelope and its attestation copies. A file without a `vouch` part is
 * read as a bare envelope (no copies); anything not shaped as a summary file is refused.
 */
export function readSummaryFile(content: Buffer, source: string, maxDepth = 64): ReadSummaryFile {
  const value = parseJson(content.toString('utf8'), maxDepth, source);
  if (!isRecord(value)) throw new VouchError('UNSUPPORTED_FORMAT', `${source}: not a JSON object`);
  const { payloadType, payload, signatures } = value;
  const vouch = isRecord(value.vouch) ? value.vouch : {};
  const copies = Array.isArray(vouch.attestations) ? vouch.attestations : [];
  const attestations = copies.map((copy, index): AttestationCopy => {
    if (
      !isRecord(copy) ||
      typeof copy.uri !== 'string' ||
      typeof copy.content !== 'string' ||
      !isRecord(copy.digest) ||
      typeof copy.digest.sha256 !== 'string'
    )
      throw new VouchError(
        'PARSE_ERROR',
        `${source}: vouch.attestations[${index}] is not an attestation copy`,
      );
    return { uri: copy.uri, digest: { sha256: copy.digest.sha256 }, content: copy.content };
  });
  return { envelope: JSON.stringify({ payloadType, payload, signatures }), attestations };
}

/**
 * The attestation copies beside a summary must be exactly the attestations its entry for `key` lists:
 * each copy's bytes hash to a digest the signed entry names.
 */
export function attestationCopyProblems(
  statement: Statement,
  key: string,
  copies: readonly AttestationCopy[],
): Reason[] {
  const entry = summaryEntryFor(statement, key);
  const listed = new Set(
    (Array.isArray(entry?.inputAttestations) ? entry.inputAttestations : []).flatMap((input) =>
      isRecord(input) && isRecord(input.digest) && typeof input.digest.sha256 === 'string'
        ? [input.digest.sha256]
        : [],
    ),
  );
  return copies.flatMap((copy): Reason[] => {
    const actual = createHash('sha256').update(Buffer.from(copy.content, 'base64')).digest('hex');
    return actual === copy.digest.sha256 && listed.has(actual)
      ? []
      : [
          {
            code: 'SUBJECT_MISMATCH',
            message: `the copy of ${copy.uri} (sha256:${actual}) is not an attestation the summary lists for ${key}`,
          },
        ];
  });
}

/** When a summary stops vouching for its artifacts, as it says. */
export function summaryValidUntil(statement: Statement): string | undefined {
  const predicate = isRecord(statement.predicate) ? statement.predicate : {};
  const vouch = isRecord(predicate.vouch) ? predicate.vouch : {};
  return typeof vouch.validUntil === 'string' ? vouch.validUntil : undefined;
}
