import type { Reason } from './errors.ts';
import type { ArtifactRecord, ArtifactStatus } from './lifecycle.ts';
import type { ExceptionUse } from './policy-extensions.ts';

/**
 * Decision events: each change of an artifact record's status (and each use of an exception) as one
 * event, published to EventBridge by the verifier and written to `.vouch/events.jsonl` by the local
 * stack. The detail is a documented, versioned schema (README, "Decision events"): add fields, never
 * rename them.
 */
export const EVENT_SOURCE = 'vouch';
export const EVENT_SCHEMA_VERSION = 1;
export const DETAIL_TYPES = {
  decision: 'Vouch Artifact Decision',
  exceptionUsed: 'Vouch Exception Used',
  exceptionExpiring: 'Vouch Exception Expiring',
} as const;
export type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/** Most reasons an event carries: an EventBridge entry is at most 256 KB. */
export const MAX_EVENT_REASONS = 16;

export interface DecisionDetail {
  readonly schemaVersion: typeof EVENT_SCHEMA_VERSION;
  readonly bucket: string;
  readonly objectKey: string;
  /** S3 version ID (or ETag, for an unversioned bucket) of the artifact. */
  readonly version: string;
  readonly digest: string;
  readonly status: ArtifactStatus;
  readonly reasons: readonly Reason[];
  readonly flagged: boolean;
  readonly policyDigest?: string;
  readonly policyVersion?: number;
  /** The pipeline that vouched for it, where one is known. */
  readonly pipeline?: string;
  readonly keyIds: readonly string[];
  readonly identities: readonly string[];
  readonly exceptions?: readonly ExceptionUse[];
  readonly at: string;
}

export interface ExceptionExpiringDetail {
  readonly schemaVersion: typeof EVENT_SCHEMA_VERSION;
  readonly index: number;
  readonly rules: readonly string[];
  readonly reason: string;
  readonly approvedBy: string;
  readonly expiresAt: string;
  readonly policyDigest: string;
  readonly policyVersion?: number;
}

export interface VouchEvent {
  readonly detailType: DetailType;
  readonly detail: DecisionDetail | ExceptionExpiringDetail;
}

/** Sends events; the verifier's is EventBridge, the local stack's a file and the console. */
export type EventPublisher = (events: readonly VouchEvent[]) => Promise<void>;

/** The events a record's new state makes: its decision, and each exception it used. */
export function recordEvents(record: ArtifactRecord, pipeline?: string): VouchEvent[] {
  const detail: DecisionDetail = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    bucket: record.bucket,
    objectKey: record.objectKey,
    version: record.version,
    digest: record.digest,
    status: record.status,
    reasons: record.reasons.slice(0, MAX_EVENT_REASONS),
    flagged: record.flagged ?? false,
    ...(record.policyDigest ? { policyDigest: record.policyDigest } : {}),
    ...(record.policyVersion === undefined ? {} : { policyVersion: record.policyVersion }),
    ...(pipeline ? { pipeline } : {}),
    keyIds: record.keyIds ?? [],
    identities: record.identities ?? [],
    ...(record.exceptions ? { exceptions: record.exceptions } : {}),
    at: record.updatedAt,
  };
  const events: VouchEvent[] = [{ detailType: DETAIL_TYPES.decision, detail }];
  if (record.exceptions && (record.status === 'verified' || record.status === 'promoted'))
    events.push({ detailType: DETAIL_TYPES.exceptionUsed, detail });
  return events;
}
