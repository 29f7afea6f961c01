import { numberEnv, requireEnv } from '#adapters/config.ts';
import {
  DEFAULT_ROTATION,
  DEFAULT_SIGNING_KEY_ALIAS,
  type RotationConfig,
  validateRotationConfig,
} from '#core/index.ts';
import { type SigningKeyPolicyConfig, signingKeyPolicy } from './key-policy.ts';

/**
 * The rotation function's configuration contract: the variables, read here (by the function and
 * `vouch keys`) and written here (by the CDK construct and the local stack). Nothing else names them.
 */
export const ROTATION_ENV = {
  keysTable: 'VOUCH_KEYS_TABLE',
  alias: 'VOUCH_SIGNING_KEY_ALIAS',
  keySpec: 'VOUCH_KEY_SPEC',
  periodDays: 'VOUCH_ROTATION_PERIOD_DAYS',
  graceDays: 'VOUCH_GRACE_DAYS',
  retentionDays: 'VOUCH_RETENTION_DAYS',
  deletionWindowDays: 'VOUCH_DELETION_WINDOW_DAYS',
  /** The key policy of every signing key (key-policy.ts): who administers, who signs, who reads. */
  keyManager: 'VOUCH_SIGNING_KEY_MANAGER',
  keySigners: 'VOUCH_SIGNING_KEY_SIGNERS',
  keyReaders: 'VOUCH_SIGNING_KEY_READERS',
} as const;

export interface RotationFunctionConfig {
  readonly keysTable: string;
  readonly rotation: RotationConfig;
  /** @default - none: `vouch keys` then copies the active key's policy */
  readonly keyPolicy?: SigningKeyPolicyConfig;
}

/** Reads the configuration, failing at once with a message naming the variable that is missing or wrong. */
export function readRotationConfig(env: NodeJS.ProcessEnv = process.env): RotationFunctionConfig {
  const rotation = validateRotationConfig({
    alias: env[ROTATION_ENV.alias] ?? DEFAULT_SIGNING_KEY_ALIAS,
    keySpec: env[ROTATION_ENV.keySpec] ?? DEFAULT_ROTATION.keySpec,
    periodDays: numberEnv(ROTATION_ENV.periodDays, DEFAULT_ROTATION.periodDays, env),
    graceDays: numberEnv(ROTATION_ENV.graceDays, DEFAULT_ROTATION.graceDays, env),
    retentionDays: numberEnv(ROTATION_ENV.retentionDays, DEFAULT_ROTATION.retentionDays, env),
    deletionWindowDays: numberEnv(ROTATION_ENV.deletionWindowDays, DEFAULT_ROTATION.deletionWindowDays, env),
  });
  const keyPolicy = signingKeyPolicyFromEnv(env, rotation.alias);
  return {
    keysTable: requireEnv(ROTATION_ENV.keysTable, env),
    rotation,
    ...(keyPolicy ? { keyPolicy } : {}),
  };
}

/** The environment that carries a configuration: what the CDK construct sets. Empty lists are left out. */
export function rotationEnvironment(config: {
  readonly keysTable: string;
  readonly rotation: Partial<RotationConfig> & Pick<RotationConfig, 'alias'>;
  readonly keyPolicy?: Omit<SigningKeyPolicyConfig, 'alias'>;
}): Record<string, string> {
  const { rotation, keyPolicy } = config;
  const joined = (name: string, values: readonly string[] = []) =>
    values.length === 0 ? {} : { [name]: values.join(',') };
  return {
    [ROTATION_ENV.keysTable]: config.keysTable,
    [ROTATION_ENV.alias]: rotation.alias,
    [ROTATION_ENV.keySpec]: rotation.keySpec ?? DEFAULT_ROTATION.keySpec,
    [ROTATION_ENV.periodDays]: String(rotation.periodDays ?? DEFAULT_ROTATION.periodDays),
    [ROTATION_ENV.graceDays]: String(rotation.graceDays ?? DEFAULT_ROTATION.graceDays),
    [ROTATION_ENV.retentionDays]: String(rotation.retentionDays ?? DEFAULT_ROTATION.retentionDays),
    [ROTATION_ENV.deletionWindowDays]: String(
      rotation.deletionWindowDays ?? DEFAULT_ROTATION.deletionWindowDays,
    ),
    ...(keyPolicy
      ? {
          [ROTATION_ENV.keyManager]: keyPolicy.managerArn,
          ...joined(ROTATION_ENV.keySigners, keyPolicy.signerArns),
          ...joined(ROTATION_ENV.keyReaders, keyPolicy.readerArns),
        }
      : {}),
  };
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** The signing keys' policy the stack configured, if any (what `vouch keys rotate` uses without one). */
export function signingKeyPolicyFromEnv(
  env: NodeJS.ProcessEnv,
  alias: string,
): SigningKeyPolicyConfig | undefined {
  const managerArn = env[ROTATION_ENV.keyManager]?.trim();
  if (!managerArn) return undefined;
  const config = {
    alias,
    managerArn,
    signerArns: list(env[ROTATION_ENV.keySigners]),
    readerArns: list(env[ROTATION_ENV.keyReaders]),
  };
  signingKeyPolicy(config); // every ARN checked now, not at the first CreateKey
  return config;
}
