// Over ~300 lines on purpose: every configuration key's check sits beside its default and the
// cross-field checks that read them (pipelines are parsed in pipeline-config.ts); a test keeps the
// README's table equal to CONFIG_KEYS.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { SUPPORTED_KEY_SPECS } from '../lambdas/adapters/kms.ts';
import { DEFAULT_VERIFIER_BATCH_SIZE } from '../lambdas/core/defaults.ts';
import { validateRotationConfig } from '../lambdas/core/rotation.ts';
import { GITHUB_OIDC_HOST } from './access.ts';
import { legacyPipeline, type PipelineConfig, parsePipelinesConfig } from './pipeline-config.ts';

export type { GithubRepository, PipelineConfig } from './pipeline-config.ts';

/**
 * The account's GitHub OIDC provider, which every pipeline's upload role trusts. (Before pipelines,
 * `github` also named the one repository: `owner`, `repo`, `branches`; that repository becomes the
 * default pipeline's.)
 */
export interface GithubConfig {
  /**
   * The account's existing `token.actions.githubusercontent.com` provider, to reuse. An account holds one
   * provider per URL, so creating a second fails the deployment.
   * @default - none
   */
  readonly oidcProviderArn?: string;
  /**
   * Create the provider. When false and no `oidcProviderArn` is named, the stack refers to the
   * account's provider by its conventional ARN.
   * @default - false when `oidcProviderArn` is named, true otherwise
   */
  readonly createOidcProvider: boolean;
}

export interface ObjectLockConfig {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly days: number;
}

/** The resolved configuration: every key present, every value checked. */
export interface VouchConfig {
  /** @default 'Vouch' */
  readonly stackName: string;
  /** Absolute path of the policy file bundled with the verifier. @default policies/default.yaml */
  readonly policyFile: string;
  /** @default 'alias/vouch-signing' */
  readonly signingKeyAlias: string;
  /** The stack's first VSA key (a CloudFormation resource); deployers pin key IDs, not this. @default 'alias/vouch-vsa' */
  readonly vsaKeyAlias: string;
  /** The alias the rotating VSA keys sign through: `<vsaKeyAlias>/rotating`. */
  readonly vsaSigningAlias: string;
  /** A new VSA key every this many days (integer, more than graceDays). @default 365 */
  readonly vsaRotationPeriodDays: number;
  /** @default 'ECC_NIST_P256' */
  readonly keySpec: string;
  /** A new signing key every this many days (integer 1..365). @default 90 */
  readonly rotationPeriodDays: number;
  /** Previous key still accepted this many days after a rotation (0..period-1). @default 7 */
  readonly graceDays: number;
  /** A retired key stays in KMS this many days before its deletion is scheduled (0..3650). @default 365 */
  readonly retentionDays: number;
  /** KMS deletion waiting period (7..30). @default 30 */
  readonly deletionWindowDays: number;
  /** How often the rotation function runs (hours, 1..168); it rotates only when a period is due. @default 24 */
  readonly rotationCheckHours: number;
  /** An artifact still missing attestations after this long is rejected (seconds). @default 3600 */
  readonly pendingDeadlineSeconds: number;
  /** Verifier memory: at least 1769 MB, one full vCPU for digesting. @default 1769 */
  readonly verifierMemoryMb: number;
  /**
   * The SQS event source's maximum concurrency: at most this many verifier invocations work on uploads at
   * once. It caps throughput and the load on DynamoDB without reserving anything. @default 10
   */
  readonly verifierConcurrency: number;
  /**
   * Reserve concurrency for the verifier: `verifierConcurrency` plus headroom for the sweep and the
   * revocation re-check. Off by default: Lambda keeps min(100, account limit) unreserved, so a
   * reservation fails the deployment on accounts whose concurrency limit is below about 110.
   * @default false
   */
  readonly reserveConcurrency: boolean;
  /**
   * Messages per verifier invocation (1..1000). The summaries an invocation promotes share one KMS
   * signature, so larger batches sign less; above 10, SQS needs a batching window. @default 100
   */
  readonly verifierBatchSize: number;
  /**
   * Longest the event source waits to fill a batch (seconds, 0..300): at least 1 when the batch size is
   * over 10. Under load batches fill at once; at a trickle this is latency added. @default 1
   */
  readonly verifierBatchingWindowSeconds: number;
  /** A verification summary is valid for this many days after it is signed (1..3650). @default 30 */
  readonly vsaValidityDays: number;
  /** Deliveries before a message goes to the DLQ. @default 5 */
  readonly maxReceiveCount: number;
  /** Retention of every function's log group (days). @default 365 */
  readonly logRetentionDays: number;
  /** Noncurrent object versions expire after this many days in both buckets. @default 90 */
  readonly noncurrentVersionExpirationDays: number;
  /** Server access logs expire after this many days. @default 365 */
  readonly accessLogExpirationDays: number;
  /** DynamoDB deletion protection on every table. @default true */
  readonly deletionProtection: boolean;
  /** Object Lock default retention on the deployment bucket. @default - off */
  readonly objectLock?: ObjectLockConfig;
  /**
   * The pipelines: who may upload where and vouch for what, each with its own upload role and rotating
   * signing key. @default - one `default` pipeline: the single alias of a stack from before pipelines,
   * every object key in scope, the `github` repository's upload role
   */
  readonly pipelines: readonly PipelineConfig[];
  /** The GitHub OIDC provider, when a pipeline has GitHub repositories. */
  readonly github?: GithubConfig;
  /** IAM principals (role or user ARNs) allowed to assume the deployer role. @default - managed policy only */
  readonly deployerPrincipalArns: readonly string[];
  /** Email address subscribed to the alarm topic. @default - alarms without a topic */
  readonly alarmEmail?: string;
  /**
   * IAM role or user ARNs that may sign policy bundles with the policy key and push them to the policy
   * bucket (`vouch policy sign|push`). @default [] - the verifier keeps the bundled policy
   */
  readonly policySignerPrincipalArns: readonly string[];
  /** @default 'alias/vouch-policy' */
  readonly policyKeyAlias: string;
  /** Fan decision events out to an encrypted SNS topic. @default false */
  readonly decisionTopic: boolean;
  /** Fan decision events out to a webhook (EventBridge API destination). @default - none */
  readonly decisionWebhook?: {
    readonly url: string;
    readonly apiKeySecretArn: string;
    readonly apiKeyHeader?: string;
  };
  /**
   * Lambda code signing: an AWS Signer profile and an enforced code-signing configuration on the verifier
   * and the rotation function, whose bundles are signed during the deployment. @default false
   */
  readonly codeSigning: boolean;
}

/** Where relative paths (the policy file) resolve. */
export interface ConfigOptions {
  /** @default process.cwd() */
  readonly baseDir?: string;
}

/** Every key the `vouch` context object may hold. */
export const CONFIG_KEYS = [
  'stackName',
  'policyFile',
  'signingKeyAlias',
  'vsaKeyAlias',
  'vsaRotationPeriodDays',
  'keySpec',
  'rotationPeriodDays',
  'graceDays',
  'retentionDays',
  'deletionWindowDays',
  'rotationCheckHours',
  'pendingDeadlineSeconds',
  'verifierMemoryMb',
  'verifierConcurrency',
  'reserveConcurrency',
  'verifierBatchSize',
  'verifierBatchingWindowSeconds',
  'vsaValidityDays',
  'maxReceiveCount',
  'logRetentionDays',
  'noncurrentVersionExpirationDays',
  'accessLogExpirationDays',
  'deletionProtection',
  'objectLock',
  'github',
  'pipelines',
  'deployerPrincipalArns',
  'signerPrincipalArns',
  'alarmEmail',
  'codeSigning',
  'policySignerPrincipalArns',
  'policyKeyAlias',
  'decisionTopic',
  'decisionWebhook',
] as const;

export const DEFAULT_POLICY_FILE = 'policies/default.yaml';

/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const ALIAS_PATTERN = /^alias\/(?!aws\/)[a-zA-Z0-9/_-]{1,250}$/;
const GITHUB_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
const GITHUB_REPOSITORY_KEYS = ['owner', 'repo', 'branches'];
const BRANCH_PATTERN = /^[A-Za-z0-9_./*-]{1,255}$/;
const OIDC_PROVIDER_ARN_PATTERN =
  /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;
const IAM_PRINCIPAL_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Raw = Record<string, unknown>;

/**
 * Reads the `vouch` context object (cdk.json or `-c vouch='{...}'`), fills in defaults and checks every
 * value, so a mistake fails `cdk synth` with the key's name instead of a failed deployment an hour later.
 */
export function loadConfig(raw: unknown, options: ConfigOptions = {}): VouchConfig {
  const input = parseRaw(raw);
  const known = new Set<string>(CONFIG_KEYS);
  const unknown = Object.keys(input).filter((key) => !known.has(key));
  // A misspelt key would otherwise silently fall back to its default.
  if (unknown.length) fail(`unknown key(s) ${unknown.join(', ')}; known keys: ${[...known].join(', ')}`);

  const baseDir = options.baseDir ?? process.cwd();
  const policyFile = resolvePolicyFile(str(input, 'policyFile', DEFAULT_POLICY_FILE), baseDir);
  const keySpec = str(input, 'keySpec', 'ECC_NIST_P256');
  if (!(SUPPORTED_KEY_SPECS as readonly string[]).includes(keySpec)) {
    fail(`keySpec must be one of ${SUPPORTED_KEY_SPECS.join(', ')}, found ${JSON.stringify(keySpec)}`);
  }
  const signingKeyAlias = alias(input, 'signingKeyAlias', 'alias/vouch-signing');
  const vsaKeyAlias = alias(input, 'vsaKeyAlias', 'alias/vouch-vsa');
  if (signingKeyAlias === vsaKeyAlias)
    fail(`signingKeyAlias and vsaKeyAlias must differ, both are ${vsaKeyAlias}`);

  const rotationPeriodDays = int(input, 'rotationPeriodDays', 90, 1, 365);
  const graceDays = int(input, 'graceDays', 7, 0, 364);
  if (graceDays >= rotationPeriodDays) {
    fail(`graceDays must be less than rotationPeriodDays (${rotationPeriodDays}), found ${graceDays}`);
  }
  const retentionDays = int(input, 'retentionDays', 365, 0, 3650);
  const deletionWindowDays = int(input, 'deletionWindowDays', 30, 7, 30);
  try {
    // The rotation function runs the same check at cold start: agreeing here keeps it from ever failing there.
    validateRotationConfig({
      alias: signingKeyAlias,
      keySpec,
      periodDays: rotationPeriodDays,
      graceDays,
      retentionDays,
      deletionWindowDays,
    });
  } catch (error) {
    fail((error as Error).message);
  }

  const logRetentionDays = int(input, 'logRetentionDays', 365, 1, 3653);
  const verifierBatchSize = int(input, 'verifierBatchSize', DEFAULT_VERIFIER_BATCH_SIZE, 1, 1000);
  const verifierBatchingWindowSeconds = int(input, 'verifierBatchingWindowSeconds', 1, 0, 300);
  if (verifierBatchSize > 10 && verifierBatchingWindowSeconds < 1)
    fail(
      `verifierBatchSize ${verifierBatchSize} needs verifierBatchingWindowSeconds of at least 1 (SQS batches over 10 messages need a batching window); found ${verifierBatchingWindowSeconds}`,
    );
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    fail(`logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}, found ${logRetentionDays}`);
  }
  const stackName = str(input, 'stackName', 'Vouch');
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    fail(`stackName must be a CloudFormation stack name (letters, digits, hyphens), found ${stackName}`);
  }
  const alarmEmail = optionalStr(input, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    fail(`alarmEmail must be an email address, found ${JSON.stringify(alarmEmail)}`);
  }
  const principalArns = (key: string) => {
    const arns = strList(input, key, []);
    for (const arn of arns) {
      if (!IAM_PRINCIPAL_ARN_PATTERN.test(arn)) {
        fail(`${key} must hold IAM role or user ARNs, found ${JSON.stringify(arn)}`);
      }
    }
    return arns;
  };
  const deployerPrincipalArns = principalArns('deployerPrincipalArns');
  const signerPrincipalArns = principalArns('signerPrincipalArns');
  const vsaRotationPeriodDays = int(input, 'vsaRotationPeriodDays', 365, 1, 3650);
  if (graceDays >= vsaRotationPeriodDays)
    fail(`graceDays must be less than vsaRotationPeriodDays (${vsaRotationPeriodDays}), found ${graceDays}`);
  const policySignerPrincipalArns = principalArns('policySignerPrincipalArns');
  const policyKeyAlias = str(input, 'policyKeyAlias', 'alias/vouch-policy');
  if (!/^alias\/[A-Za-z0-9/_-]{1,250}$/.test(policyKeyAlias) || policyKeyAlias.startsWith('alias/aws/'))
    fail(`policyKeyAlias must be a KMS alias name (alias/…, not alias/aws/…), found ${policyKeyAlias}`);
  const decisionWebhook = parseWebhook(input.decisionWebhook);

  const objectLock = parseObjectLock(input.objectLock);
  const github = parseGithub(input.github, input.pipelines !== undefined);
  let pipelines: PipelineConfig[];
  if (input.pipelines !== undefined) {
    if (input.signerPrincipalArns !== undefined)
      fail(
        'with pipelines, name outside signers in each pipeline (pipelines[].signerPrincipalArns), not signerPrincipalArns',
      );
    pipelines = parsePipelinesConfig(input.pipelines, signingKeyAlias, fail);
  } else {
    pipelines = legacyPipeline(signingKeyAlias, github?.repository, signerPrincipalArns, fail);
  }
  const vsaSigningAlias = `${vsaKeyAlias}/rotating`;
  for (const pipeline of pipelines) {
    if ([vsaKeyAlias, vsaSigningAlias].includes(pipeline.alias))
      fail(`pipeline ${pipeline.name}'s alias ${pipeline.alias} is a VSA key's alias`);
  }
  return {
    stackName,
    policyFile,
    signingKeyAlias,
    vsaKeyAlias,
    vsaSigningAlias,
    vsaRotationPeriodDays,
    keySpec,
    rotationPeriodDays,
    graceDays,
    retentionDays,
    deletionWindowDays,
    rotationCheckHours: int(input, 'rotationCheckHours', 24, 1, 168),
    pendingDeadlineSeconds: int(input, 'pendingDeadlineSeconds', 3600, 60, 30 * 86_400),
    verifierMemoryMb: int(input, 'verifierMemoryMb', 1769, 1769, 10_240),
    // The event source needs at least 2; more than 1000 is beyond SQS's maximum concurrency.
    verifierConcurrency: int(input, 'verifierConcurrency', 10, 2, 1000),
    reserveConcurrency: bool(input, 'reserveConcurrency', false),
    verifierBatchSize,
    verifierBatchingWindowSeconds,
    vsaValidityDays: int(input, 'vsaValidityDays', 30, 1, 3650),
    maxReceiveCount: int(input, 'maxReceiveCount', 5, 1, 1000),
    logRetentionDays,
    noncurrentVersionExpirationDays: int(input, 'noncurrentVersionExpirationDays', 90, 1, 36_500),
    accessLogExpirationDays: int(input, 'accessLogExpirationDays', 365, 1, 36_500),
    deletionProtection: bool(input, 'deletionProtection', true),
    codeSigning: bool(input, 'codeSigning', false),
    deployerPrincipalArns,
    pipelines,
    policySignerPrincipalArns,
    policyKeyAlias,
    decisionTopic: bool(input, 'decisionTopic', false),
    ...(decisionWebhook ? { decisionWebhook } : {}),
    ...(objectLock ? { objectLock } : {}),
    ...(github && pipelines.some((p) => p.github) ? { github: github.provider } : {}),
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
  };
}

function parseWebhook(raw: unknown): VouchConfig['decisionWebhook'] {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    fail(`decisionWebhook must be { url, apiKeySecretArn, apiKeyHeader? }, found ${describe(raw)}`);
  const input = raw as Raw;
  for (const key of Object.keys(input))
    if (!['url', 'apiKeySecretArn', 'apiKeyHeader'].includes(key))
      fail(`decisionWebhook has an unknown key ${key}; allowed: url, apiKeySecretArn, apiKeyHeader`);
  const url = str(input, 'url', '');
  if (!/^https:\/\/[^\s/]+/.test(url))
    fail(`decisionWebhook.url must be an https:// URL, found ${JSON.stringify(url)}`);
  const apiKeySecretArn = str(input, 'apiKeySecretArn', '');
  if (!/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(apiKeySecretArn))
    fail(
      `decisionWebhook.apiKeySecretArn must be a Secrets Manager secret ARN, found ${JSON.stringify(apiKeySecretArn)}`,
    );
  const apiKeyHeader = optionalStr(input, 'apiKeyHeader');
  return { url, apiKeySecretArn, ...(apiKeyHeader ? { apiKeyHeader } : {}) };
}

function fail(message: string): never {
  throw new ConfigError(`vouch configuration: ${message}`);
}

function parseRaw(raw: unknown): Raw {
  if (raw === undefined || raw === null) return {};
  // `cdk synth -c vouch='{"...": ...}'` passes the object as a JSON string.
  if (typeof raw === 'string') {
    try {
      return parseRaw(JSON.parse(raw));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      fail(`the vouch context value is not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(`expected an object, found ${describe(raw)}`);
  return raw as Raw;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'string'
    ? `the string ${JSON.stringify(value)}`
    : `${typeof value} ${String(value)}`;
}

function str(input: Raw, key: string, fallback: string): string {
  return optionalStr(input, key) ?? fallback;
}

function optionalStr(input: Raw, key: string): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '')
    fail(`${key} must be a non-empty string, found ${describe(value)}`);
  return value;
}

function strList(input: Raw, key: string, fallback: readonly string[]): readonly string[] {
  const value = input[key];
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    fail(`${key} must be an array of non-empty strings, found ${describe(value)}`);
  }
  return value as string[];
}

function int(input: Raw, key: string, fallback: number, min: number, max: number): number {
  const value = input[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${key} must be an integer ${min}..${max}, found ${describe(value)}`);
  }
  return value;
}

function bool(input: Raw, key: string, fallback: boolean): boolean {
  const value = input[key] ?? fallback;
  if (typeof value !== 'boolean') fail(`${key} must be true or false, found ${describe(value)}`);
  return value;
}

function alias(input: Raw, key: string, fallback: string): string {
  const value = str(input, key, fallback);
  if (!ALIAS_PATTERN.test(value)) {
    fail(`${key} must look like alias/<name> (not alias/aws/...), found ${JSON.stringify(value)}`);
  }
  return value;
}

function resolvePolicyFile(file: string, baseDir: string): string {
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    fail(`policyFile ${file} does not exist (resolved to ${path}); the verifier bundles it at synth time`);
  }
  return path;
}

function parseObjectLock(value: unknown): ObjectLockConfig | undefined {
  if (value === undefined || value === false) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(
      `objectLock must be { "mode": "GOVERNANCE" | "COMPLIANCE", "days": n } or false, found ${describe(value)}`,
    );
  }
  const lock = value as Raw;
  if (lock.mode !== 'GOVERNANCE' && lock.mode !== 'COMPLIANCE') {
    fail(`objectLock.mode must be GOVERNANCE or COMPLIANCE, found ${describe(lock.mode)}`);
  }
  const days = lock.days;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 36_500) {
    fail(`objectLock.days must be an integer 1..36500, found ${describe(days)}`);
  }
  return { mode: lock.mode, days };
}

/**
 * `github`: the account's OIDC provider settings, and (before pipelines) the one repository whose
 * workflows upload. With `pipelines`, repositories are named in each pipeline.
 */
function parseGithub(
  value: unknown,
  withPipelines: boolean,
):
  | { provider: GithubConfig; repository?: { owner: string; repo: string; branches: readonly string[] } }
  | undefined {
  if (value === undefined) return withPipelines ? { provider: { createOidcProvider: true } } : undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`github must be { "owner": ..., "repo": ... }, found ${describe(value)}`);
  }
  const github = value as Raw;
  const oidcProviderArn = optionalStr(github, 'oidcProviderArn');
  if (oidcProviderArn !== undefined && !OIDC_PROVIDER_ARN_PATTERN.test(oidcProviderArn)) {
    fail(
      `github.oidcProviderArn must be arn:aws:iam::<account>:oidc-provider/${GITHUB_OIDC_HOST}, found ${JSON.stringify(oidcProviderArn)}`,
    );
  }
  const createOidcProvider = bool(github, 'createOidcProvider', oidcProviderArn === undefined);
  if (createOidcProvider && oidcProviderArn !== undefined) {
    fail('github.createOidcProvider cannot be true when github.oidcProviderArn names an existing provider');
  }
  const provider = { createOidcProvider, ...(oidcProviderArn !== undefined ? { oidcProviderArn } : {}) };
  const named = GITHUB_REPOSITORY_KEYS.filter((key) => github[key] !== undefined);
  if (withPipelines) {
    if (named.length)
      fail(
        `with pipelines, github holds the OIDC provider settings only: name repositories in pipelines[].github (found github.${named.join(', github.')})`,
      );
    return { provider };
  }
  const owner = github.owner;
  const repo = github.repo;
  if (typeof owner !== 'string' || !GITHUB_NAME_PATTERN.test(owner)) {
    fail(`github.owner must be a GitHub user or organisation name, found ${describe(owner)}`);
  }
  if (typeof repo !== 'string' || !GITHUB_NAME_PATTERN.test(repo)) {
    fail(`github.repo must be a repository name without the owner, found ${describe(repo)}`);
  }
  const branches = strList(github, 'branches', ['main']);
  if (branches.length === 0) fail('github.branches must name at least one branch');
  for (const branch of branches) {
    if (!BRANCH_PATTERN.test(branch))
      fail(`github.branches has an invalid branch name ${JSON.stringify(branch)}`);
  }
  return { provider, repository: { owner, repo, branches } };
}
