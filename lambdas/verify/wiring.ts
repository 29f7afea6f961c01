import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { type AwsClients, awsClients } from '#adapters/clients.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { kmsSigner } from '#adapters/kms.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import {
  DEFAULT_KEY_CACHE_SECONDS,
  DEFAULT_PENDING_DEADLINE_SECONDS,
  loadTrustRoot,
  parsePolicy,
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

/** The pipeline's dependencies for a configuration and a set of clients (the Lambda's, or the local stack's). */
export function pipelineDeps(config: VerifierConfig, clients: AwsClients): PipelineDeps {
  return {
    s3: new S3Store(clients.s3),
    records: new RecordStore(clients.documents, config.tables.records),
    index: new AttestationIndex(clients.documents, config.tables.index),
    keys: new RegistryKeyCache(
      new KeyRegistry(clients.documents, config.tables.keys),
      (config.keyCacheSeconds ?? DEFAULT_KEY_CACHE_SECONDS) * 1000,
    ),
    policy: parsePolicy(readFileSync(config.policyPath), config.policyPath),
    trustRoot: config.trustedRootPath ? loadTrustRoot(config.trustedRootPath) : loadTrustRoot(),
    vsaSigner: kmsSigner(clients.kms, config.vsaKeyId),
    stagingBucket: config.stagingBucket,
    deploymentBucket: config.deploymentBucket,
    pendingDeadlineSeconds: config.pendingDeadlineSeconds ?? DEFAULT_PENDING_DEADLINE_SECONDS,
    ...(config.digestAlgorithms ? { digestAlgorithms: config.digestAlgorithms } : {}),
  };
}

let cached: Pipeline | undefined;

/** The function's pipeline, built once per container from its environment (a bad one fails the cold start). */
export function pipelineFromEnv(env: NodeJS.ProcessEnv = process.env): Pipeline {
  cached ??= createPipeline(pipelineDeps(readVerifierConfig(env), awsClients(env)));
  return cached;
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
