import type { KeyStatus } from './keys.ts';

export interface RotationConfig {
  readonly alias: string;
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
  readonly disabledAt?: string;
  readonly deletionScheduledAt?: string;
}

export interface RotationPlan {
  /** The period a new key is due for, if one is. Periods start at whole multiples of the period length. */
  readonly createFor?: string;
  /** Active keys to move to verify-only once the new key is registered. */
  readonly retire: readonly string[];
  /** Keys whose window has closed: disable in KMS (no more signing), mark retired. */
  readonly disable: readonly string[];
  /** Keys past retention: schedule their deletion in KMS (the registry keeps their public key). */
  readonly scheduleDeletion: readonly string[];
}

const DAY_MS = 86_400_000;

export function periodStart(now: Date, periodDays: number): Date {
  const length = periodDays * DAY_MS;
  return new Date(Math.floor(now.getTime() / length) * length);
}

/** Pure: what a rotation run at `now` should do, given the registry's keys for this alias. */
export function planRotation(
  keys: readonly RegistryKeyState[],
  now: Date,
  config: RotationConfig,
): RotationPlan {
  const mine = keys.filter((key) => key.alias === config.alias);
  const period = periodStart(now, config.periodDays);
  const active = mine.filter((key) => key.status === 'active');
  const current = active.some((key) => new Date(key.validFrom) >= period);
  const at = now.getTime();
  const closed = (key: RegistryKeyState) =>
    key.validUntil !== undefined && new Date(key.validUntil).getTime() <= at;
  return {
    ...(current ? {} : { createFor: period.toISOString() }),
    retire: current ? [] : active.map((key) => key.keyId),
    disable: mine.filter((key) => key.status === 'retiring' && closed(key)).map((key) => key.keyId),
    scheduleDeletion: mine
      .filter(
        (key) =>
          (key.status === 'retired' || key.status === 'revoked') &&
          key.deletionScheduledAt === undefined &&
          key.validUntil !== undefined &&
          new Date(key.validUntil).getTime() + config.retentionDays * DAY_MS <= at,
      )
      .map((key) => key.keyId),
  };
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
