/**
 * Machine-readable reason codes. A decision carries one `Reason` per failed check; callers map codes,
 * humans read messages. Codes are part of the public contract (records, CLI `--json`): add, never rename.
 */
export type ReasonCode =
  // input
  | 'PARSE_ERROR'
  | 'LIMIT_EXCEEDED'
  | 'UNSUPPORTED_FORMAT'
  | 'INVALID_PATH'
  | 'INVALID_DIGEST'
  // signatures and keys
  | 'SIGNATURE_INVALID'
  | 'UNKNOWN_KEY'
  | 'KEY_NOT_VALID_AT_TIME'
  | 'KEY_REVOKED'
  | 'CERTIFICATE_INVALID'
  | 'TLOG_INVALID'
  | 'TIMESTAMP_INVALID'
  // statement content
  | 'SUBJECT_MISMATCH'
  | 'DIGEST_UNAVAILABLE'
  // policy
  | 'NO_MATCHING_RULE'
  | 'MISSING_ATTESTATION'
  | 'SIGNER_NOT_ALLOWED'
  | 'THRESHOLD_NOT_MET'
  | 'BUILDER_NOT_ALLOWED'
  | 'SOURCE_NOT_ALLOWED'
  | 'CONDITION_FAILED'
  | 'VULNERABILITY_FOUND'
  | 'VULNERABILITY_SCAN_STALE'
  | 'VULNERABILITY_SCAN_INVALID'
  | 'EXCEPTION_EXPIRED'
  // promotion and deployment
  | 'SUPERSEDED'
  | 'VERIFICATION_FAILED';

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
  /** Which attestation (file name, `file#line`) or rule the reason is about, when there is one. */
  readonly subject?: string;
}

/** An expected failure: becomes a `Reason`, never escapes a decision as an exception. */
export class VouchError extends Error {
  readonly code: ReasonCode;

  constructor(code: ReasonCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VouchError';
    this.code = code;
  }

  toReason(subject?: string): Reason {
    return subject === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, subject };
  }
}

/** Discriminated result for expected failures, as Powertools does; exceptions stay for the unexpected. */
export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: Reason };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(code: ReasonCode, message: string, subject?: string): Result<T> => ({
  ok: false,
  error: subject === undefined ? { code, message } : { code, message, subject },
});
