import type { KeyPurpose, KeyStatus } from './keys.ts';

/**
 * One line of keys the rotation function keeps: a pipeline's signing keys, or the summary (VSA) keys.
 * Each line has its own alias, its own lease and its own period.
 */
export interface RotationConfig {
  readonly alias: string;
  /** The pipeline whose artifact signing keys these are; absent for summary keys. */
  readonly pipeline?: string;
  /** The pipeline's object-key prefixes, recorded with each key it gets. */
  readonly scope?: readonly string[];
  /** @default 'signing' */
  readonly purpose?: KeyPurpose;
  readonly keySpec: string;
  /** A new signing key every this many days. */
  readonly periodDays: number;
  /** How long after a rotation the previous key's signatures are still accepted (in-flight pipelines). */
  readonly graceDays: number;
  /** How long after its window closes a key is kept in KMS before its deletion is scheduled. */
  readonly retentionDays: number;
  /** KMS deletion waiting period (7–30 days). */
  readonly deletionWindowDays: number;
}

export interface RegistryKeyState {
  readonly keyId: string;
  readonly alias: string;
  readonly status: KeyStatus;
  readonly validFrom: string;
  readonly validUntil?: string;
  readonly revokedAt?: string;
  readonly disabledAt?: string;
  readonly deletionScheduledAt?: string;
  /** When a key made elsewhere (the stack's first summary key) joined the line: it counts for that period. */
  readonly adoptedAt?: string;
  /** A CloudFormation resource: the registry retires it, but KMS disabling and deletion are the stack's. */
  readonly external?: boolean;
}

export interface RotationPlan {
  /** The period a new key is due for, if one is. Periods start at whole multiples of the period length. */
  readonly createFor?: string;
  /** The newest active key: the one the alias must point at (unless a new one is created). */
  readonly newest?: string;
  /**
   * Active keys older than the newest: an earlier run created a key and crashed before retiring these.
   * Moved to verify-only by this run (when it creates a key: every key older than that one).
   */
  readonly retire: readonly string[];
  /** Keys that may no longer sign: a retiring key whose window closed, a revoked key. Disable in KMS. */
  readonly disable: readonly string[];
  /** Keys past retention: schedule their deletion in KMS (the registry keeps their public key). */
  readonly scheduleDeletion: readonly string[];
}

const DAY_MS = 86_400_000;

export function periodStart(now: Date, periodDays: number): Date {
  const length = periodDays * DAY_MS;
  return new Date(Math.floor(now.getTime() / length) * length);
}

/** Newest first: by validity start, then by key ID so that every run agrees on the order. */
export const newestFirst = (a: RegistryKeyState, b: RegistryKeyState) =>
  b.validFrom.localeCompare(a.validFrom) || b.keyId.localeCompare(a.keyId);

/** Pure: what a rotation run at `now` should do, given the registry's keys for this alias. */
export function planRotation(
  keys: readonly RegistryKeyState[],
  now: Date,
  config: RotationConfig,
): RotationPlan {
  const mine = keys.filter((key) => key.alias === config.alias);
  const period = periodStart(now, config.periodDays);
  const active = mine.filter((key) => key.status === 'active').sort(newestFirst);
  const [newest, ...older] = active;
  // A key adopted into the line counts for the period it was adopted in, not the one it was made in: an
  // upgrade must not replace the key deployers trust on the spot.
  const current =
    newest !== undefined &&
    (new Date(newest.validFrom) >= period ||
      (newest.adoptedAt !== undefined && new Date(newest.adoptedAt) >= period));
  const at = now.getTime();
  const closed = (key: RegistryKeyState) =>
    key.validUntil !== undefined && new Date(key.validUntil).getTime() <= at;
  return {
    ...(current ? {} : { createFor: period.toISOString() }),
    ...(newest ? { newest: newest.keyId } : {}),
    retire: (current ? older : active).map((key) => key.keyId),
    disable: mine
      .filter(
        (key) =>
          (key.status === 'retiring' && closed(key)) ||
          (key.status === 'revoked' && key.disabledAt === undefined),
      )
      .map((key) => key.keyId),
    scheduleDeletion: mine
      .filter(
        (key) =>
          (key.status === 'retired' || key.status === 'revoked') &&
          key.deletionScheduledAt === undefined &&
          !key.external &&
          key.validUntil !== undefined &&
          new Date(key.validUntil).getTime() + config.retentionDays * DAY_MS <= at,
      )
      .map((key) => key.keyId),
  };
}

/**
 * Reads a time an administrator gives (a revocation's effective time): ISO 8601 with an explicit zone
 * (`Z` or `±hh:mm`), or `now`. A time without a zone would be read in the local zone of whoever typed
 * it; a year past 9999 would not sort as the instant it is. Throws with what was wrong.
 */
export function parseAdminTime(text: string, now: Date = new Date()): Date {
  if (text === 'now') return now;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new Error(
      `${JSON.stringify(text)} is not an ISO 8601 time with a zone (e.g. 2026-11-26T10:00:00Z or 2026-11-26T11:00:00+01:00), nor "now"`,
    );
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new Error(`${JSON.stringify(text)} is not a valid time`);
  return time;
}

export function validateRotationConfig(config: RotationConfig): RotationConfig {
  const check = (ok: boolean, message: string) => {
    if (!ok) throw new Error(`rotation configuration: ${message}`);
  };
  check(
    config.alias.startsWith('alias/') && !config.alias.startsWith('alias/aws/'),
    `alias must start with alias/ (not alias/aws/), found ${config.alias}`,
  );
  check(
    Number.isInteger(config.periodDays) && config.periodDays >= 1 && config.periodDays <= 365,
    `periodDays must be an integer 1..365, found ${config.periodDays}`,
  );
  check(
    config.graceDays >= 0 && config.graceDays < config.periodDays,
    `graceDays must be 0..periodDays-1, found ${config.graceDays}`,
  );
  check(config.retentionDays >= 0, `retentionDays must be >= 0, found ${config.retentionDays}`);
  check(
    Number.isInteger(config.deletionWindowDays) &&
      config.deletionWindowDays >= 7 &&
      config.deletionWindowDays <= 30,
    `deletionWindowDays must be an integer 7..30 (KMS's limits), found ${config.deletionWindowDays}`,
  );
  return config;
}
