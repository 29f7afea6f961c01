import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { type AwsClients, awsClients } from '#adapters/clients.ts';
import { eventBridgePublisher } from '#adapters/events.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { getPublicKey, kmsSigner, kmsSignerThrough } from '#adapters/kms.ts';
import { CurrentPolicy, S3PolicyStore } from '#adapters/policy-store.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import { CurrentTrustRoots, trustRootsFromEnv } from '#adapters/trust-roots.ts';
import { S3TrustStore } from '#adapters/trust-store.ts';
import {
  ConditionEngineNotLoaded,
  DEFAULT_KEY_CACHE_SECONDS,
  DEFAULT_PENDING_DEADLINE_SECONDS,
  namedInstances,
  namedPipelines,
  type ParseOptions,
  type Policy,
  PolicySyntaxNotLoaded,
  parsePolicy,
  parsePolicyAsync,
  VouchError,
} from '#core/index.ts';
import { readVerifierConfig, type VerifierConfig } from './config.ts';
import { createPipeline, type Outcome, type Pipeline, type PipelineDeps } from './pipeline.ts';

/** Where the functions log and count: Powertools in Lambda; the local stack passes its own. */
export interface Observability {
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly metrics: {
    addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
    publishStoredMetrics(): unknown;
  };
}

export const powertools: Observability = {
  logger: new Logger({ serviceName: 'vouch-verifier' }),
  metrics: new Metrics({ namespace: 'Vouch', serviceName: 'vouch-verifier' }),
};

/**
 * The pipeline's dependencies for a configuration and a set of clients (the Lambda's, or the local
 * stack's). The Sigstore roots are the trust refresher's (VOUCH_TRUST_* in `env`: cached, re-read every
 * few minutes), else the pinned ones; a policy trusting an instance not configured stops the cold start.
 */
export function pipelineDeps(
  config: VerifierConfig,
  clients: AwsClients,
  env: NodeJS.ProcessEnv = process.env,
  observe: Observability = powertools,
): PipelineDeps {
  const trustRoot = trustRootsFromEnv(
    { ...env, ...(config.trustedRootPath ? { VOUCH_TRUSTED_ROOT_PATH: config.trustedRootPath } : {}) },
    (bucket, prefix) => new S3TrustStore(clients.s3, bucket, prefix),
  );
  const policy = loadPolicy(config, clients, trustRoot.configured());
  return {
    s3: new S3Store(clients.s3),
    records: new RecordStore(clients.documents, config.tables.records),
    index: new AttestationIndex(clients.documents, config.tables.index),
    keys: new RegistryKeyCache(
      new KeyRegistry(clients.documents, config.tables.keys),
      (config.keyCacheSeconds ?? DEFAULT_KEY_CACHE_SECONDS) * 1000,
      Date.now,
      config.pipelines,
    ),
    policy,
    ...(config.pipelines ? { pipelines: config.pipelines } : {}),
    trustRoot,
    vsaSigner: config.vsaSigningAlias
      ? kmsSignerThrough(clients.kms, config.vsaSigningAlias, config.vsaKeyId)
      : kmsSigner(clients.kms, config.vsaKeyId),
    stagingBucket: config.stagingBucket,
    deploymentBucket: config.deploymentBucket,
    pendingDeadlineSeconds: config.pendingDeadlineSeconds ?? DEFAULT_PENDING_DEADLINE_SECONDS,
    ...(config.vsaValiditySeconds !== undefined ? { vsaValiditySeconds: config.vsaValiditySeconds } : {}),
    ...(config.digestAlgorithms ? { digestAlgorithms: config.digestAlgorithms } : {}),
    ...(config.eventBus
      ? {
          events: {
            publish: eventBridgePublisher(config.eventBus, env),
            failed: (error: unknown) => {
              observe.logger.error('decision events not published', { error: error as Error });
              observe.metrics.addMetric('EventsFailed', MetricUnit.Count, 1);
            },
          },
        }
      : {}),
  };
}

/**
 * The policy the verifier decides with — the one place it is loaded. Without a policy store, the bundled
 * file, parsed now (a bad one stops the cold start). With one, the newest version signed by the policy
 * key, read at each `prepare()` (cached, bounded staleness); the bundled file is parsed only if the store
 * is empty (first boot). A policy trusting a Sigstore instance this verifier is not configured for is
 * refused: the bundled one stops the cold start, a stored version is skipped.
 */
export function loadPolicy(
  config: VerifierConfig,
  clients: Pick<AwsClients, 's3' | 'kms'>,
  configuredInstances: readonly string[],
): Policy | CurrentPolicy {
  // What this verifier cannot apply: Sigstore instances it has no roots for, pipelines it does not know.
  const known = (config.pipelines ?? []).map((pipeline) => pipeline.name);
  const inapplicable = (policy: Policy) => {
    const instances = namedInstances(policy).filter((instance) => !configuredInstances.includes(instance));
    const pipelines = namedPipelines(policy).filter((name) => !known.includes(name));
    return [
      ...(instances.length > 0
        ? [`trusts Sigstore instance(s) ${instances.join(', ')}, which VOUCH_TRUST_INSTANCES does not list`]
        : []),
      ...(pipelines.length > 0
        ? [`names pipeline(s) ${pipelines.join(', ')}, which VOUCH_PIPELINES does not list`]
        : []),
    ];
  };
  const checked = (policy: Policy) => {
    const problems = inapplicable(policy);
    if (problems.length > 0) throw new Error(`configuration: the policy ${problems.join('; ')}`);
    return policy;
  };
  // The bundled file's schema was checked by cdk synth: exactly those bytes skip it (no schema compiled
  // at a cold start); any other bytes, and every version read from the policy store, are validated.
  const { policySchemaValidated, policyDocumentPath } = config;
  const synthChecked: ParseOptions = policySchemaValidated
    ? {
        schemaValidated: policySchemaValidated,
        ...(policyDocumentPath ? { validatedDocument: () => readFileSync(policyDocumentPath, 'utf8') } : {}),
      }
    : {};
  const bundled = async () =>
    checked(await parsePolicyAsync(readFileSync(config.policyPath), config.policyPath, synthChecked));
  const store = config.policyStore;
  if (!store) {
    try {
      return checked(parsePolicy(readFileSync(config.policyPath), config.policyPath, synthChecked));
    } catch (error) {
      // A policy with conditions is compiled once the CEL engine is loaded, at the first prepare(); one
      // synth did not parse, once the YAML parser and schema check are.
      if (!(error instanceof ConditionEngineNotLoaded || error instanceof PolicySyntaxNotLoaded)) throw error;
      return new CurrentPolicy(undefined, bundled, async () => {
        throw new Error('no policy key: there is no policy store');
      });
    }
  }
  return new CurrentPolicy(
    new S3PolicyStore(clients.s3, store.bucket, store.prefix),
    bundled,
    async () => (await getPublicKey(clients.kms, store.keyId)).publicKey,
    {
      ttlMs: (store.cacheSeconds ?? 60) * 1000,
      maxStaleMs: (store.maxStaleSeconds ?? 900) * 1000,
    },
    (policy, where) => {
      const problems = inapplicable(policy);
      if (problems.length > 0)
        throw new VouchError('UNSUPPORTED_FORMAT', `${where}: ${problems.join('; ')}: refused`);
    },
  );
}

/** A pipeline, and what each invocation does before it (bring the Sigstore roots up to date). */
export interface Verifier {
  readonly pipeline: Pipeline;
  readonly prepare: () => Promise<void>;
}

export function verifierFor(deps: PipelineDeps, observe: Observability = powertools): Verifier {
  const roots = deps.trustRoot instanceof CurrentTrustRoots ? deps.trustRoot : undefined;
  const policy = deps.policy instanceof CurrentPolicy ? deps.policy : undefined;
  const reported = new Set<string>();
  return {
    pipeline: createPipeline(deps),
    // A store that cannot be read at a cold start fails the invocation (retried), before any record.
    prepare: async () => {
      if (roots && (await roots.refresh())) reportTrustRoots(observe, roots);
      if (!policy) return;
      const changed = await policy.refresh();
      const status = policy.status();
      if (changed) {
        observe.logger.info('policy version adopted', { ...status });
        if (status.version !== undefined)
          observe.metrics.addMetric('PolicyVersion', MetricUnit.Count, status.version);
      }
      const refused = status.refused.filter((why) => !reported.has(why));
      for (const why of refused) {
        reported.add(why);
        observe.logger.warn('policy version refused', { why });
        observe.metrics.addMetric('PolicyVersionsRefused', MetricUnit.Count, 1);
      }
    },
  };
}

let cached: Verifier | undefined;

/** The function's verifier, built once per container from its environment (a bad one fails the cold start). */
export function verifierFromEnv(env: NodeJS.ProcessEnv = process.env): Verifier {
  cached ??= verifierFor(pipelineDeps(readVerifierConfig(env), awsClients(env), env));
  return cached;
}

const MAX_TRUST_ROOT_AGE_HOURS = 7 * 24;

/**
 * How old each held root is (since the refresher last confirmed it current): a metric per instance, and a
 * warning past a week. The verifier keeps verifying with the last verified root; the stack's alarm on
 * the refresher says when that has gone on too long.
 */
function reportTrustRoots({ logger, metrics }: Observability, roots: CurrentTrustRoots) {
  for (const held of roots.status()) {
    metrics.addMetric(`TrustRootAgeHours.${held.instance}`, MetricUnit.Count, held.ageHours);
    if (held.ageHours > MAX_TRUST_ROOT_AGE_HOURS || held.problem)
      logger.warn('trusted root is stale or its stored version was not used', { ...held });
  }
}

const METRIC_BY_STATUS: Record<string, string> = {
  pending: 'Pending',
  verified: 'Verified',
  promoted: 'Promoted',
  rejected: 'Rejected',
  quarantined: 'Quarantined',
};

/** One log line and one metric per decision, the re-evaluations an attestation woke included. */
export function report({ logger, metrics }: Observability, outcome: Outcome, started: number): void {
  for (const o of [outcome, ...(outcome.reevaluated ?? [])]) {
    if (o.kind === 'ignored' || !o.status) continue;
    metrics.addMetric(METRIC_BY_STATUS[o.status] ?? 'Unknown', MetricUnit.Count, 1);
    logger.info('decision', { objectKey: o.objectKey, kind: o.kind, status: o.status, reasons: o.reasons });
  }
  metrics.addMetric('VerificationLatency', MetricUnit.Milliseconds, Date.now() - started);
}
