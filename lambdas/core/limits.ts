/** Hard limits on untrusted input. Each exists so that an attacker's upload costs bounded time and memory. */
export interface Limits {
  /** Largest attestation file read into memory. */
  readonly maxAttestationBytes: number;
  /** Most envelopes or bundles in one `.jsonl` file. */
  readonly maxEntriesPerFile: number;
  /** Deepest JSON nesting accepted; in-toto statements are shallow, deep nesting is an attack. */
  readonly maxJsonDepth: number;
  /** Most subjects in one statement (one provenance may cover a whole release, not a million files). */
  readonly maxSubjects: number;
  /** Most signatures on one DSSE envelope. */
  readonly maxSignatures: number;
  /**
   * Longest object key accepted. S3's own limit is 1024 bytes; Vouch keeps room for the names it writes
   * beside an artifact in the deployment bucket (`KEY.vsa.sigstore.json`, `KEY.attestations/…`).
   */
  readonly maxPathBytes: number;
  /**
   * Most attestations one evaluation verifies. Anyone who can upload can name a victim's digest in
   * thousands of attestations; past this bound the rest are reported, not verified.
   */
  readonly maxAttestationsPerEvaluation: number;
  /** Most attestation bytes one evaluation reads (and holds) at once, across every file it reads. */
  readonly maxBytesPerEvaluation: number;
  /** Most keys tried for a keyed signature whose hint names no key. */
  readonly maxKeyCandidates: number;
  /** Most subject digests one attestation file is indexed under. */
  readonly maxDigestsPerFile: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxAttestationBytes: 16 * 1024 * 1024,
  maxEntriesPerFile: 1024,
  maxJsonDepth: 64,
  maxSubjects: 1024,
  maxSignatures: 16,
  maxPathBytes: 960,
  maxAttestationsPerEvaluation: 64,
  maxBytesPerEvaluation: 64 * 1024 * 1024,
  maxKeyCandidates: 8,
  maxDigestsPerFile: 1024,
};
