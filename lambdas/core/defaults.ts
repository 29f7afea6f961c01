/**
 * Defaults every part of Vouch agrees on — the stack, the functions, the CLI and the local stack — and
 * the tags on its KMS keys, which IAM conditions in `lib/` name. Change them here, nowhere else.
 */
export const DEFAULT_SIGNING_KEY_ALIAS = 'alias/vouch-signing';
export const DEFAULT_VSA_KEY_ALIAS = 'alias/vouch-vsa';
/**
 * The alias the rotating summary (VSA) keys sign through. `alias/vouch-vsa` stays on the stack's first
 * summary key (a CloudFormation resource): deployers pin key IDs, never an alias.
 */
export const DEFAULT_VSA_SIGNING_ALIAS = 'alias/vouch-vsa/rotating';
/** A new summary key each year: deployers who pin key IDs add the next one once a year. */
export const DEFAULT_VSA_ROTATION_PERIOD_DAYS = 365;

/** How long an artifact with no usable attestation yet waits before it is rejected. */
export const DEFAULT_PENDING_DEADLINE_SECONDS = 3600;
/** How long a warm verifier trusts a key it read from the registry (a promotion reads it again). */
export const DEFAULT_KEY_CACHE_SECONDS = 30;
/**
 * SQS messages per verifier invocation. The summaries of the artifacts one invocation promotes share a
 * KMS signature: at 100 messages (an artifact and its attestation each), one signature covers about 50
 * under load (a batch fills within its window), so signing stays well under a tenth of a call per
 * artifact. A batch's messages are handled concurrently, each artifact streamed (memory stays flat).
 */
export const DEFAULT_VERIFIER_BATCH_SIZE = 100;
/**
 * How long a verification summary is valid after it is signed: deployers refuse it afterwards, so a
 * summary kept from before a revocation, or copied elsewhere, stops vouching for its artifact.
 */
export const DEFAULT_VSA_VALIDITY_SECONDS = 30 * 24 * 3600;

export const DEFAULT_ROTATION = {
  keySpec: 'ECC_NIST_P256',
  periodDays: 90,
  graceDays: 7,
  retentionDays: 365,
  deletionWindowDays: 30,
} as const;

/** Tag keys on Vouch's KMS keys. */
export const KEY_TAGS = {
  /** `signing` on artifact signing keys (made by the rotation function), `vsa` on the VSA key. */
  purpose: 'vouch:purpose',
  /** The alias a signing key belongs to. */
  alias: 'vouch:alias',
  /** The rotation period (and lease) a signing key was created for. */
  period: 'vouch:period',
  /** The digest of the key policy a signing key was created with. */
  policy: 'vouch:policy',
} as const;

export const KEY_PURPOSES = { signing: 'signing', vsa: 'vsa' } as const;

/** The KMS key policy bundles are signed with (`vouch policy sign`), and verified against. */
export const DEFAULT_POLICY_KEY_ALIAS = 'alias/vouch-policy';
