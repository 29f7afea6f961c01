import { numberEnv, requireEnv } from '#adapters/config.ts';
import {
  DEFAULT_PIPELINE,
  DEFAULT_ROTATION,
  DEFAULT_SIGNING_KEY_ALIAS,
  DEFAULT_VSA_ROTATION_PERIOD_DAYS,
  type PipelineScope,
  parsePipelines,
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
  /** The one alias of a configuration without pipelines (the stack's default pipeline before them). */
  alias: 'VOUCH_SIGNING_KEY_ALIAS',
  keySpec: 'VOUCH_KEY_SPEC',
  periodDays: 'VOUCH_ROTATION_PERIOD_DAYS',
  graceDays: 'VOUCH_GRACE_DAYS',
  retentionDays: 'VOUCH_RETENTION_DAYS',
  deletionWindowDays: 'VOUCH_DELETION_WINDOW_DAYS',
  /** The key policy of every key (key-policy.ts): who administers, who reads. */
  keyManager: 'VOUCH_SIGNING_KEY_MANAGER',
  /** Who signs through the one alias of a configuration without pipelines. */
  keySigners: 'VOUCH_SIGNING_KEY_SIGNERS',
  keyReaders: 'VOUCH_SIGNING_KEY_READERS',
  /** The pipelines, as JSON: `[{ name, alias, prefixes, signers }]`, each a line of its own keys. */
  pipelines: 'VOUCH_PIPELINES',
  /** The summary (VSA) keys' line: the alias the promoter signs through, who signs, how often. */
  vsaAlias: 'VOUCH_VSA_SIGNING_ALIAS',
  vsaSigners: 'VOUCH_VSA_SIGNERS',
  vsaPeriodDays: 'VOUCH_VSA_ROTATION_PERIOD_DAYS',
  /** The stack's first summary key (a CloudFormation resource), adopted as the line's first key. */
  vsaKey: 'VOUCH_VSA_KEY_ID',
} as const;

/** A pipeline as the rotation function knows it: its scope, and who may sign through its alias. */
export interface PipelineDefinition extends PipelineScope {
  /** Role or user ARNs its keys' policy lets sign through its alias. */
  readonly signers?: readonly string[];
}

/** One line of keys: a pipeline's signing keys, or the summary keys. */
export interface RotationLine {
  /** `pipeline:<name>` or `vsa`: how requests, results and logs name it. */
  readonly id: string;
  readonly rotation: RotationConfig;
  /** @default - none: `vouch keys` then copies the active key's policy */
  readonly keyPolicy?: SigningKeyPolicyConfig;
  /** A key made by the stack that becomes the line's first (the summary line's CloudFormation key). */
  readonly adopt?: string;
}

export interface RotationFunctionConfig {
  readonly keysTable: string;
  readonly lines: readonly RotationLine[];
  /** The rotation role, when configured: recorded as the creator of every key it makes. */
  readonly managerArn?: string;
}

export const VSA_LINE = 'vsa';
export const pipelineLine = (name: string) => `pipeline:${name}`;

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** Reads the configuration, failing at once with a message naming the variable that is missing or wrong. */
export function readRotationConfig(env: NodeJS.ProcessEnv = process.env): RotationFunctionConfig {
  const shared = {
    keySpec: env[ROTATION_ENV.keySpec] ?? DEFAULT_ROTATION.keySpec,
    periodDays: numberEnv(ROTATION_ENV.periodDays, DEFAULT_ROTATION.periodDays, env),
    graceDays: numberEnv(ROTATION_ENV.graceDays, DEFAULT_ROTATION.graceDays, env),
    retentionDays: numberEnv(ROTATION_ENV.retentionDays, DEFAULT_ROTATION.retentionDays, env),
    deletionWindowDays: numberEnv(ROTATION_ENV.deletionWindowDays, DEFAULT_ROTATION.deletionWindowDays, env),
  };
  const managerArn = env[ROTATION_ENV.keyManager]?.trim() || undefined;
  const readerArns = list(env[ROTATION_ENV.keyReaders]);
  const policyFor = (alias: string, signerArns: readonly string[]) => {
    if (!managerArn) return undefined;
    const config = { alias, managerArn, signerArns, readerArns };
    signingKeyPolicy(config); // every ARN checked now, not at the first CreateKey
    return config;
  };
  const raw = env[ROTATION_ENV.pipelines];
  const pipelines: PipelineDefinition[] = raw
    ? parsePipelines(raw, ROTATION_ENV.pipelines).map((p) => ({
        name: p.name,
        alias: p.alias,
        prefixes: p.prefixes,
        signers: Array.isArray(p.signers) ? (p.signers as string[]) : [],
      }))
    : // Before pipelines: one alias, whose keys vouched for every object key.
      [
        {
          name: DEFAULT_PIPELINE,
          alias: env[ROTATION_ENV.alias] ?? DEFAULT_SIGNING_KEY_ALIAS,
          prefixes: [''],
          signers: list(env[ROTATION_ENV.keySigners]),
        },
      ];
  const lines: RotationLine[] = pipelines.map((pipeline) => {
    const keyPolicy = policyFor(pipeline.alias, pipeline.signers ?? []);
    return {
      id: pipelineLine(pipeline.name),
      rotation: validateRotationConfig({
        ...shared,
        alias: pipeline.alias,
        pipeline: pipeline.name,
        scope: pipeline.prefixes,
        purpose: 'signing',
      }),
      ...(keyPolicy ? { keyPolicy } : {}),
    };
  });
  const vsaAlias = env[ROTATION_ENV.vsaAlias];
  if (vsaAlias) {
    const keyPolicy = policyFor(vsaAlias, list(env[ROTATION_ENV.vsaSigners]));
    const adopt = env[ROTATION_ENV.vsaKey]?.trim();
    lines.push({
      id: VSA_LINE,
      rotation: validateRotationConfig({
        ...shared,
        // Summaries are P-256, whatever the artifact keys are: deployers' checks are written for it.
        keySpec: 'ECC_NIST_P256',
        periodDays: numberEnv(ROTATION_ENV.vsaPeriodDays, DEFAULT_VSA_ROTATION_PERIOD_DAYS, env),
        alias: vsaAlias,
        purpose: 'vsa',
      }),
      ...(keyPolicy ? { keyPolicy } : {}),
      ...(adopt ? { adopt } : {}),
    });
  }
  return {
    keysTable: requireEnv(ROTATION_ENV.keysTable, env),
    lines,
    ...(managerArn ? { managerArn } : {}),
  };
}

/** What the CDK construct (or the local stack) configures: every value may be a deploy-time token. */
export interface RotationEnvironmentInput {
  readonly keysTable: string;
  readonly rotation?: Partial<Omit<RotationConfig, 'alias' | 'pipeline' | 'scope' | 'purpose'>>;
  readonly managerArn?: string;
  readonly readerArns?: readonly string[];
  readonly pipelines: readonly PipelineDefinition[];
  readonly vsa?: {
    readonly alias: string;
    readonly signerArns: readonly string[];
    readonly periodDays?: number;
    /** The stack's first summary key, to adopt. */
    readonly keyId?: string;
  };
}

/**
 * The environment that carries a configuration. `json` serializes the pipelines (the CDK passes
 * `Stack.toJsonString`, which keeps deploy-time tokens intact). Empty lists are left out.
 */
export function rotationEnvironment(
  config: RotationEnvironmentInput,
  json: (value: unknown) => string = JSON.stringify,
): Record<string, string> {
  const { rotation = {} } = config;
  const joined = (name: string, values: readonly string[] = []) =>
    values.length === 0 ? {} : { [name]: values.join(',') };
  return {
    [ROTATION_ENV.keysTable]: config.keysTable,
    [ROTATION_ENV.keySpec]: rotation.keySpec ?? DEFAULT_ROTATION.keySpec,
    [ROTATION_ENV.periodDays]: String(rotation.periodDays ?? DEFAULT_ROTATION.periodDays),
    [ROTATION_ENV.graceDays]: String(rotation.graceDays ?? DEFAULT_ROTATION.graceDays),
    [ROTATION_ENV.retentionDays]: String(rotation.retentionDays ?? DEFAULT_ROTATION.retentionDays),
    [ROTATION_ENV.deletionWindowDays]: String(
      rotation.deletionWindowDays ?? DEFAULT_ROTATION.deletionWindowDays,
    ),
    ...(config.managerArn ? { [ROTATION_ENV.keyManager]: config.managerArn } : {}),
    ...joined(ROTATION_ENV.keyReaders, config.readerArns),
    [ROTATION_ENV.pipelines]: json(
      config.pipelines.map(({ name, alias, prefixes, signers }) => ({
        name,
        alias,
        prefixes,
        signers: signers ?? [],
      })),
    ),
    ...(config.vsa
      ? {
          [ROTATION_ENV.vsaAlias]: config.vsa.alias,
          ...joined(ROTATION_ENV.vsaSigners, config.vsa.signerArns),
          [ROTATION_ENV.vsaPeriodDays]: String(config.vsa.periodDays ?? DEFAULT_VSA_ROTATION_PERIOD_DAYS),
          ...(config.vsa.keyId ? { [ROTATION_ENV.vsaKey]: config.vsa.keyId } : {}),
        }
      : {}),
  };
}

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
