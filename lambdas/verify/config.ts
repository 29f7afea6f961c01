import type { TableNames } from '#adapters/config.ts';
import { numberEnv, requireEnv } from '#adapters/config.ts';
import {
  DEFAULT_KEY_CACHE_SECONDS,
  DEFAULT_PENDING_DEADLINE_SECONDS,
  DEFAULT_VSA_VALIDITY_SECONDS,
  type DigestAlgorithm,
  isDigestAlgorithm,
  type PipelineScope,
  parsePipelines,
} from '#core/index.ts';

/**
 * The verifier functions' configuration contract: the variables, read here (by the functions, once, at
 * cold start) and written here (by the CDK construct and the local stack). Nothing else names them.
 */
export const VERIFIER_ENV = {
  stagingBucket: 'VOUCH_STAGING_BUCKET',
  deploymentBucket: 'VOUCH_DEPLOYMENT_BUCKET',
  recordsTable: 'VOUCH_RECORDS_TABLE',
  indexTable: 'VOUCH_INDEX_TABLE',
  keysTable: 'VOUCH_KEYS_TABLE',
  vsaKeyId: 'VOUCH_VSA_KEY_ID',
  vsaSigningAlias: 'VOUCH_VSA_SIGNING_ALIAS',
  pipelines: 'VOUCH_PIPELINES',
  policyPath: 'VOUCH_POLICY_PATH',
  policySchemaValidated: 'VOUCH_POLICY_SCHEMA_VALIDATED',
  policyDocument: 'VOUCH_POLICY_DOCUMENT_PATH',
  trustedRootPath: 'VOUCH_TRUSTED_ROOT_PATH',
  pendingDeadlineSeconds: 'VOUCH_PENDING_DEADLINE_SECONDS',
  vsaValiditySeconds: 'VOUCH_VSA_VALIDITY_SECONDS',
  digestAlgorithms: 'VOUCH_DIGEST_ALGORITHMS',
  keyCacheSeconds: 'VOUCH_KEY_CACHE_SECONDS',
  policyBucket: 'VOUCH_POLICY_BUCKET',
  policyPrefix: 'VOUCH_POLICY_PREFIX',
  policyKeyId: 'VOUCH_POLICY_KEY_ID',
  policyCacheSeconds: 'VOUCH_POLICY_CACHE_SECONDS',
  policyMaxStaleSeconds: 'VOUCH_POLICY_MAX_STALE_SECONDS',
  eventBus: 'VOUCH_EVENT_BUS',
} as const;

/** Where signed policy bundles are read from, and the key that must have signed them. */
export interface PolicyStoreConfig {
  readonly bucket: string;
  /** @default 'policy/' */
  readonly prefix?: string;
  /** The policy key (ARN or alias): its public key verifies bundles. */
  readonly keyId: string;
  /** @default 60 */
  readonly cacheSeconds?: number;
  /** @default 900 */
  readonly maxStaleSeconds?: number;
}

export interface VerifierConfig {
  readonly stagingBucket: string;
  readonly deploymentBucket: string;
  readonly tables: TableNames;
  /**
   * The KMS key (ARN or alias) that signs verification summaries: the stack's first VSA key, and the one
   * summaries are signed with until the rotating line's alias exists.
   */
  readonly vsaKeyId: string;
  /** The alias the rotating summary keys sign through. @default - always `vsaKeyId` */
  readonly vsaSigningAlias?: string;
  /**
   * Who owns which object keys (`{ registry: true }` counts only the owning pipeline's keys).
   * @default - none: every registry key vouches for every object key, as before pipelines
   */
  readonly pipelines?: readonly PipelineScope[];
  readonly policyPath: string;
  /**
   * The digest (`sha256:<hex>`) of the policy file as `cdk synth` validated it against the schema: a file
   * with exactly that digest is only compiled at a cold start, not validated again. @default none
   */
  readonly policySchemaValidated?: string;
  /**
   * The policy file as `cdk synth` parsed and validated it, in JSON: read at a cold start instead of
   * parsing the file (no YAML parser loaded), when the file's digest is `policySchemaValidated`.
   * @default none: the file is parsed
   */
  readonly policyDocumentPath?: string;
  /** @default the pinned Sigstore public-good root bundled with the function */
  readonly trustedRootPath?: string;
  /** @default DEFAULT_PENDING_DEADLINE_SECONDS */
  readonly pendingDeadlineSeconds?: number;
  /** How long a verification summary is valid after it is signed. @default DEFAULT_VSA_VALIDITY_SECONDS */
  readonly vsaValiditySeconds?: number;
  /** @default ['sha256'] */
  readonly digestAlgorithms?: readonly DigestAlgorithm[];
  /** @default DEFAULT_KEY_CACHE_SECONDS */
  readonly keyCacheSeconds?: number;
  /** Signed policies, newest valid version first; without it the bundled policy (`policyPath`) only. */
  readonly policyStore?: PolicyStoreConfig;
  /** The EventBridge bus decision events go to; none published without it. */
  readonly eventBus?: string;
}

/** What the configuration may leave out: everything else has a value once read (a default, if not set). */
type OptionalSetting =
  | 'trustedRootPath'
  | 'vsaSigningAlias'
  | 'pipelines'
  | 'policyStore'
  | 'eventBus'
  | 'policySchemaValidated'
  | 'policyDocumentPath';

/** Reads the configuration, failing at once with a message naming the variable that is missing or wrong. */
export function readVerifierConfig(
  env: NodeJS.ProcessEnv = process.env,
): Required<Omit<VerifierConfig, OptionalSetting>> & Pick<VerifierConfig, OptionalSetting> {
  const algorithms = (env[VERIFIER_ENV.digestAlgorithms] ?? 'sha256').split(',').map((name) => name.trim());
  if (!algorithms.every(isDigestAlgorithm))
    throw new Error(`configuration: ${VERIFIER_ENV.digestAlgorithms} must list sha256 and/or sha512`);
  const trustedRootPath = env[VERIFIER_ENV.trustedRootPath];
  const vsaSigningAlias = env[VERIFIER_ENV.vsaSigningAlias];
  const pipelines = env[VERIFIER_ENV.pipelines];
  const policyBucket = env[VERIFIER_ENV.policyBucket];
  if (policyBucket && !env[VERIFIER_ENV.policyKeyId])
    throw new Error(
      `configuration: ${VERIFIER_ENV.policyBucket} needs ${VERIFIER_ENV.policyKeyId}, the key policy bundles are signed with`,
    );
  const eventBus = env[VERIFIER_ENV.eventBus];
  const policySchemaValidated = env[VERIFIER_ENV.policySchemaValidated];
  const policyDocumentPath = env[VERIFIER_ENV.policyDocument];
  return {
    stagingBucket: requireEnv(VERIFIER_ENV.stagingBucket, env),
    deploymentBucket: requireEnv(VERIFIER_ENV.deploymentBucket, env),
    tables: {
      records: requireEnv(VERIFIER_ENV.recordsTable, env),
      index: requireEnv(VERIFIER_ENV.indexTable, env),
      keys: requireEnv(VERIFIER_ENV.keysTable, env),
    },
    vsaKeyId: requireEnv(VERIFIER_ENV.vsaKeyId, env),
    ...(vsaSigningAlias ? { vsaSigningAlias } : {}),
    ...(pipelines
      ? {
          pipelines: parsePipelines(pipelines, VERIFIER_ENV.pipelines).map(({ name, alias, prefixes }) => ({
            name,
            alias,
            prefixes,
          })),
        }
      : {}),
    policyPath: requireEnv(VERIFIER_ENV.policyPath, env),
    ...(policySchemaValidated ? { policySchemaValidated } : {}),
    ...(policyDocumentPath ? { policyDocumentPath } : {}),
    ...(trustedRootPath ? { trustedRootPath } : {}),
    pendingDeadlineSeconds: numberEnv(
      VERIFIER_ENV.pendingDeadlineSeconds,
      DEFAULT_PENDING_DEADLINE_SECONDS,
      env,
    ),
    vsaValiditySeconds: numberEnv(VERIFIER_ENV.vsaValiditySeconds, DEFAULT_VSA_VALIDITY_SECONDS, env),
    digestAlgorithms: algorithms,
    keyCacheSeconds: numberEnv(VERIFIER_ENV.keyCacheSeconds, DEFAULT_KEY_CACHE_SECONDS, env),
    ...(policyBucket
      ? {
          policyStore: {
            bucket: policyBucket,
            prefix: env[VERIFIER_ENV.policyPrefix] || 'policy/',
            keyId: requireEnv(VERIFIER_ENV.policyKeyId, env),
            cacheSeconds: numberEnv(VERIFIER_ENV.policyCacheSeconds, 60, env),
            maxStaleSeconds: numberEnv(VERIFIER_ENV.policyMaxStaleSeconds, 900, env),
          },
        }
      : {}),
    ...(eventBus ? { eventBus } : {}),
  };
}

/** The environment that carries a configuration: what the CDK construct and the local stack set. */
export function verifierEnvironment(
  config: VerifierConfig,
  json: (value: unknown) => string = JSON.stringify,
): Record<string, string> {
  return {
    [VERIFIER_ENV.stagingBucket]: config.stagingBucket,
    [VERIFIER_ENV.deploymentBucket]: config.deploymentBucket,
    [VERIFIER_ENV.recordsTable]: config.tables.records,
    [VERIFIER_ENV.indexTable]: config.tables.index,
    [VERIFIER_ENV.keysTable]: config.tables.keys,
    [VERIFIER_ENV.vsaKeyId]: config.vsaKeyId,
    ...(config.vsaSigningAlias ? { [VERIFIER_ENV.vsaSigningAlias]: config.vsaSigningAlias } : {}),
    ...(config.pipelines
      ? {
          [VERIFIER_ENV.pipelines]: json(
            config.pipelines.map(({ name, alias, prefixes }) => ({ name, alias, prefixes })),
          ),
        }
      : {}),
    [VERIFIER_ENV.policyPath]: config.policyPath,
    ...(config.policySchemaValidated
      ? { [VERIFIER_ENV.policySchemaValidated]: config.policySchemaValidated }
      : {}),
    ...(config.policyDocumentPath ? { [VERIFIER_ENV.policyDocument]: config.policyDocumentPath } : {}),
    ...(config.trustedRootPath ? { [VERIFIER_ENV.trustedRootPath]: config.trustedRootPath } : {}),
    [VERIFIER_ENV.pendingDeadlineSeconds]: String(
      config.pendingDeadlineSeconds ?? DEFAULT_PENDING_DEADLINE_SECONDS,
    ),
    ...(config.vsaValiditySeconds !== undefined
      ? { [VERIFIER_ENV.vsaValiditySeconds]: String(config.vsaValiditySeconds) }
      : {}),
    ...(config.digestAlgorithms
      ? { [VERIFIER_ENV.digestAlgorithms]: config.digestAlgorithms.join(',') }
      : {}),
    ...(config.keyCacheSeconds !== undefined
      ? { [VERIFIER_ENV.keyCacheSeconds]: String(config.keyCacheSeconds) }
      : {}),
    ...(config.policyStore
      ? {
          [VERIFIER_ENV.policyBucket]: config.policyStore.bucket,
          [VERIFIER_ENV.policyKeyId]: config.policyStore.keyId,
          ...(config.policyStore.prefix ? { [VERIFIER_ENV.policyPrefix]: config.policyStore.prefix } : {}),
          ...(config.policyStore.cacheSeconds !== undefined
            ? { [VERIFIER_ENV.policyCacheSeconds]: String(config.policyStore.cacheSeconds) }
            : {}),
          ...(config.policyStore.maxStaleSeconds !== undefined
            ? { [VERIFIER_ENV.policyMaxStaleSeconds]: String(config.policyStore.maxStaleSeconds) }
            : {}),
        }
      : {}),
    ...(config.eventBus ? { [VERIFIER_ENV.eventBus]: config.eventBus } : {}),
  };
}
