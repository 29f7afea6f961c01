import type { Digests } from './digest.ts';
import type { Reason } from './errors.ts';
import type { Decision } from './evaluate.ts';
import type { ExceptionUse } from './policy-extensions.ts';
import type { TrustRootRef } from './trust.ts';

/**
 * An artifact version's life: pending → verified → promoted; pending → rejected; verified → rejected
 * (superseded, a key revoked before promotion, overwritten while copied); verified|promoted → quarantined
 * (a revocation re-check). A pending artifact is re-evaluated as attestations arrive; every other move
 * is one-way. These rules live here only; storage enforces them with conditional writes.
 */
export type ArtifactStatus = 'pending' | 'verified' | 'promoted' | 'rejected' | 'quarantined';

/** The statuses each status may be entered from. */
export const ALLOWED_FROM: Readonly<Record<ArtifactStatus, readonly ArtifactStatus[]>> = {
  pending: ['pending'],
  verified: ['pending'],
  rejected: ['pending', 'verified'],
  promoted: ['verified'],
  quarantined: ['verified', 'promoted'],
};

export const canMove = (from: ArtifactStatus, to: ArtifactStatus) => ALLOWED_FROM[to].includes(from);

/** Decided for good: nothing but a revocation (promoted → quarantined) moves these again. */
export const isFinal = (status: ArtifactStatus) => status !== 'pending' && status !== 'verified';

/**
 * How long a promotion claim holds: the Lambda timeout, so a claim outlives any invocation that made it.
 * A record left `verified` this long was abandoned mid-promotion (its claim has lapsed): the sweep finishes it.
 */
export const PROMOTION_LEASE_MS = 15 * 60 * 1000;
export const STALE_VERIFIED_MS = PROMOTION_LEASE_MS;

/** The notes history entries carry, so a record's story reads the same whoever wrote it. */
export const NOTES = {
  waiting: 'waiting for attestations',
  refusedBeforeDownload: 'refused before download',
  unusableAttestation: 'unusable attestation file',
  overwritten: 'overwritten during promotion',
  superseded: 'superseded by a newer upload',
  revokedBeforePromotion: 'key revoked before promotion',
  revoked: (keyId: string) => `key ${keyId} revoked`,
  auditNowFails: (keyId: string) => `key ${keyId} revoked: audit verdict now fail`,
  summaryResigned: (keyId: string) => `summary key ${keyId} revoked: summary signed again`,
  policyChanged: (version: number | undefined, digest: string) =>
    `re-evaluated under policy ${version === undefined ? 'bundled' : `version ${version}`} (${digest})`,
} as const;

export interface HistoryEntry {
  readonly status: ArtifactStatus;
  readonly at: string;
  readonly note?: string;
}

export interface ArtifactRecord {
  readonly objectKey: string;
  /** S3 version ID where the bucket is versioned, else the ETag of the bytes that were digested. */
  readonly version: string;
  /** The ETag of the version digested, where `version` is a version ID: the copy is conditional on it. */
  readonly eTag?: string;
  readonly bucket: string;
  readonly size: number;
  readonly digest: string;
  readonly digests: Digests;
  /** Its bytes start as a DSSE PAE does (see Digester): plain signatures over it never count. */
  readonly paeShaped?: boolean;
  readonly status: ArtifactStatus;
  readonly reasons: readonly Reason[];
  /** What was gathered and did not count (junk, other artifacts' attestations, signers not allowed). */
  readonly notes?: readonly Reason[];
  readonly mode?: 'enforce' | 'audit';
  /** Accepted although a rule failed: audit mode, or an audit rule beside the enforced ones. */
  readonly flagged?: boolean;
  /** The failures of audit rules that did not decide. */
  readonly auditReasons?: readonly Reason[];
  readonly rules?: readonly string[];
  readonly keyIds?: readonly string[];
  readonly identities?: readonly string[];
  /** The Sigstore roots (instance, TUF versions, digest) that verified the signatures that counted. */
  readonly trustRoots?: readonly TrustRootRef[];
  readonly attestations?: readonly string[];
  readonly policyDigest?: string;
  /** The signed policy bundle's version the decision was made under; absent for the bundled policy. */
  readonly policyVersion?: number;
  /** Exceptions that waived failures of this artifact's rules. */
  readonly exceptions?: readonly ExceptionUse[];
  readonly uploadedAt: string;
  /**
   * S3's order of uploads to this key (the notification's `sequencer`, right-padded): an older upload
   * verified late is never promoted over a newer one.
   */
  readonly sequencer?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deadline?: string;
  /** Written by releases before 2026-11-26 only: always the object key. */
  readonly promotedKey?: string;
  /** The delivery promoting it, and until when that claim holds (a lapsed claim may be taken over). */
  readonly promotionOwner?: string;
  readonly promotionUntil?: string;
  readonly history: readonly HistoryEntry[];
}

/** Fields a record may change on a move; the rest are fixed when it is created. */
export type RecordPatch = Partial<
  Omit<ArtifactRecord, 'objectKey' | 'version' | 'status' | 'history' | 'promotionOwner' | 'promotionUntil'>
>;

/**
 * The status a decision gives an artifact: verified when accepted; pending while all that is wrong is an
 * attestation or a co-signer not there yet (the decision is curable) and the deadline has not passed;
 * rejected otherwise. Only an allowed signer can make a decision incurable: junk anyone can upload never
 * turns a wait into a rejection.
 */
export function statusFor(decision: Decision, at: Date, deadline: Date): ArtifactStatus {
  if (decision.accepted) return 'verified';
  return decision.curable && at < deadline ? 'pending' : 'rejected';
}

/** Let through although a rule failed: an audit-mode verdict, or an audit rule beside the enforced ones. */
export const isFlagged = (decision: Decision) =>
  decision.accepted && (decision.verdict === 'fail' || (decision.auditReasons?.length ?? 0) > 0);

/** Most notes a record keeps: a record is one DynamoDB item (400 KB), and notes are about junk. */
export const MAX_RECORDED_NOTES = 32;

/** What a record keeps of a decision. */
export function decisionFields(decision: Decision): RecordPatch {
  return {
    reasons: decision.reasons,
    notes: decision.notes.slice(0, MAX_RECORDED_NOTES),
    mode: decision.mode,
    flagged: isFlagged(decision),
    ...(decision.auditReasons ? { auditReasons: decision.auditReasons } : {}),
    rules: decision.rules,
    keyIds: decision.keyIds,
    identities: decision.identities,
    ...(decision.trustRoots ? { trustRoots: decision.trustRoots } : {}),
    attestations: decision.attestations.map((a) => a.source),
    policyDigest: decision.policyDigest,
    ...(decision.policyVersion === undefined ? {} : { policyVersion: decision.policyVersion }),
    ...(decision.exceptions ? { exceptions: decision.exceptions } : {}),
  };
}

/** A new artifact record for the version just digested and decided. */
export function newRecord(input: {
  readonly objectKey: string;
  readonly version: string;
  readonly eTag?: string;
  readonly bucket: string;
  readonly size: number;
  readonly digest: string;
  readonly digests: Digests;
  readonly paeShaped: boolean;
  readonly sequencer: string;
  readonly uploadedAt: Date;
  readonly decision: Decision;
  readonly at: Date;
  readonly pendingDeadlineSeconds: number;
}): ArtifactRecord {
  const deadline = new Date(input.uploadedAt.getTime() + input.pendingDeadlineSeconds * 1000);
  const status = statusFor(input.decision, input.at, deadline);
  const at = input.at.toISOString();
  return {
    objectKey: input.objectKey,
    version: input.version,
    ...(input.eTag ? { eTag: input.eTag } : {}),
    bucket: input.bucket,
    size: input.size,
    digest: input.digest,
    digests: input.digests,
    ...(input.paeShaped ? { paeShaped: true } : {}),
    status,
    reasons: [],
    ...decisionFields(input.decision),
    uploadedAt: input.uploadedAt.toISOString(),
    sequencer: input.sequencer,
    createdAt: at,
    updatedAt: at,
    ...(status === 'pending' ? { deadline: deadline.toISOString() } : {}),
    history: [{ status, at, ...(status === 'pending' ? { note: NOTES.waiting } : {}) }],
  };
}

/** A record refusing an object outright: a key that cannot be read safely, an unusable attestation. */
export function refusalRecord(input: {
  readonly objectKey: string;
  readonly version: string;
  readonly bucket: string;
  readonly size: number;
  readonly uploadedAt: string;
  readonly reasons: readonly Reason[];
  readonly note: string;
  readonly at: Date;
}): ArtifactRecord {
  const at = input.at.toISOString();
  return {
    objectKey: input.objectKey,
    version: input.version,
    bucket: input.bucket,
    size: input.size,
    digest: 'unknown',
    digests: {},
    status: 'rejected',
    reasons: input.reasons,
    uploadedAt: input.uploadedAt,
    createdAt: at,
    updatedAt: at,
    history: [{ status: 'rejected', at, note: input.note }],
  };
}
