import { readFileSync } from 'node:fs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { documentClient, kmsClient, s3Client } from '#adapters/clients.ts';
import { numberEnv, requireEnv, tableNames } from '#adapters/config.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { kmsSigner } from '#adapters/kms.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import { CurrentTrustRoots, trustRootsFromEnv } from '#adapters/trust-roots.ts';
import { S3TrustStore } from '#adapters/trust-store.ts';
import { isDigestAlgorithm, namedInstances, parsePolicy, parseS3Notification } from '#core/index.ts';
import { createPipeline, type Outcome, type PipelineDeps } from './pipeline.ts';

export const logger = new Logger({ serviceName: 'vouch-verifier' });
const metrics = new Metrics({ namespace: 'Vouch', serviceName: 'vouch-verifier' });

/** Builds the pipeline's dependencies from the function's environment (see lib/ for the variables). */
export function depsFromEnv(env: NodeJS.ProcessEnv = process.env): PipelineDeps {
  const tables = tableNames(env);
  const db = documentClient();
  const policyPath = requireEnv('VOUCH_POLICY_PATH', env);
  const algorithms = (env.VOUCH_DIGEST_ALGORITHMS ?? 'sha256').split(',').map((name) => name.trim());
  if (!algorithms.every(isDigestAlgorithm))
    throw new Error(`configuration: VOUCH_DIGEST_ALGORITHMS must list sha256 and/or sha512`);
  const policy = parsePolicy(readFileSync(policyPath), policyPath);
  // The roots the trust refresher verified (cached, re-read every few minutes), else the pinned ones.
  const trustRoot = trustRootsFromEnv(
    env,
    (bucket, prefix) => new S3TrustStore(s3Client(env), bucket, prefix),
  );
  const unconfigured = namedInstances(policy).filter(
    (instance) => !trustRoot.configured().includes(instance),
  );
  if (unconfigured.length > 0) {
    throw new Error(
      `configuration: the policy trusts Sigstore instance(s) ${unconfigured.join(', ')}, which VOUCH_TRUST_INSTANCES does not list`,
    );
  }
  return {
    s3: new S3Store(s3Client(env)),
    records: new RecordStore(db, tables.records),
    index: new AttestationIndex(db, tables.index),
    keys: new RegistryKeyCache(
      new KeyRegistry(db, tables.keys),
      numberEnv('VOUCH_KEY_CACHE_SECONDS', 30, env) * 1000,
    ),
    policy,
    trustRoot,
    vsaSigner: kmsSigner(kmsClient(), requireEnv('VOUCH_VSA_KEY_ID', env)),
    stagingBucket: requireEnv('VOUCH_STAGING_BUCKET', env),
    deploymentBucket: requireEnv('VOUCH_DEPLOYMENT_BUCKET', env),
    pendingDeadlineSeconds: numberEnv('VOUCH_PENDING_DEADLINE_SECONDS', 3600, env),
    digestAlgorithms: algorithms,
  };
}

const METRIC_BY_STATUS: Record<string, string> = {
  pending: 'Pending',
  verified: 'Verified',
  promoted: 'Promoted',
  rejected: 'Rejected',
  quarantined: 'Quarantined',
};

function report(outcome: Outcome, started: number) {
  for (const o of [outcome, ...(outcome.reevaluated ?? [])]) {
    if (o.kind === 'ignored' || !o.status) continue;
    metrics.addMetric(METRIC_BY_STATUS[o.status] ?? 'Unknown', MetricUnit.Count, 1);
    logger.info('decision', { objectKey: o.objectKey, kind: o.kind, status: o.status, reasons: o.reasons });
  }
  metrics.addMetric('VerificationLatency', MetricUnit.Milliseconds, Date.now() - started);
}

const MAX_TRUST_ROOT_AGE_HOURS = numberEnv('VOUCH_TRUST_MAX_AGE_HOURS', 7 * 24);

/**
 * How old each held root is (since the refresher last confirmed it current): a metric per instance, and a
 * warning past VOUCH_TRUST_MAX_AGE_HOURS. The verifier keeps verifying with the last verified root; the
 * stack's alarm on the refresher says when that has gone on too long.
 */
function reportTrustRoots(trustRoots: CurrentTrustRoots) {
  for (const held of trustRoots.status()) {
    const metric = metrics.singleMetric();
    metric.addDimension('instance', held.instance);
    metric.addMetric('TrustRootAgeHours', MetricUnit.Count, held.ageHours);
    if (held.ageHours > MAX_TRUST_ROOT_AGE_HOURS || held.problem) {
      logger.warn('trusted root is stale or its stored version was not used', { ...held });
    }
  }
}

/**
 * The SQS-triggered verifier. Each message is one S3 notification; a message whose processing hits an
 * infrastructure fault is reported as a batch item failure, retried by SQS, and lands in the DLQ after
 * maxReceiveCount. Verdicts (rejections) are results, recorded, never failures.
 */
export function createVerifierHandler(deps: PipelineDeps) {
  const pipeline = createPipeline(deps);
  const trustRoots = deps.trustRoot instanceof CurrentTrustRoots ? deps.trustRoot : undefined;
  const processor = new BatchProcessor(EventType.SQS);
  const processRecord = async (record: SQSRecord) => {
    try {
      for (const event of parseS3Notification(record.body)) {
        const started = Date.now();
        report(await pipeline.handle(event, record.messageId), started);
      }
    } catch (error) {
      // An infrastructure fault: SQS redelivers the message, and the DLQ keeps it after maxReceiveCount.
      logger.error('message failed; it will be retried', {
        messageId: record.messageId,
        error: error as Error,
      });
      metrics.addMetric('ProcessingErrors', MetricUnit.Count, 1);
      throw error;
    }
  };
  const streamProcessor = new BatchProcessor(EventType.DynamoDBStreams);
  const processRevocation = async (record: DynamoDBRecord) => {
    const keyId = revokedKeyId(record);
    if (!keyId) return;
    const outcomes = await pipeline.recheckKey(keyId);
    logger.info('revocation re-check', {
      keyId,
      rechecked: outcomes.length,
      quarantined: outcomes.filter((o) => o.status === 'quarantined').map((o) => o.objectKey),
    });
    for (const outcome of outcomes) report(outcome, Date.now());
  };
  return async (
    event: VerifierEvent,
    context: Context,
  ): Promise<SQSBatchResponse | DynamoDBBatchResponse | { swept: number }> => {
    try {
      // Before any record: a store that cannot be read at a cold start fails the whole batch (retried).
      if (trustRoots && (await trustRoots.refresh())) reportTrustRoots(trustRoots);
      if ('action' in event && event.action === 'sweep') {
        const outcomes = await pipeline.sweepPending();
        for (const outcome of outcomes) report(outcome, Date.now());
        return { swept: outcomes.length };
      }
      const records = (event as { Records?: { eventSource?: string }[] }).Records ?? [];
      if (records[0]?.eventSource === 'aws:dynamodb') {
        return await processPartialResponse(
          event as DynamoDBStreamEvent,
          processRevocation,
          streamProcessor,
          {
            context,
          },
        );
      }
      return await processPartialResponse(event as SQSEvent, processRecord, processor, { context });
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/**
 * The key registry's stream (AWS) carries every change to a key; a revocation is one whose new image has
 * a `revokedAt` the old one did not have, or an earlier one (the effective time only moves earlier).
 */
export function revokedKeyId(record: DynamoDBRecord): string | undefined {
  const next = record.dynamodb?.NewImage;
  const revokedAt = next?.revokedAt?.S;
  const keyId = next?.keyId?.S;
  if (!revokedAt || !keyId) return undefined;
  const before = record.dynamodb?.OldImage?.revokedAt?.S;
  return before === undefined || revokedAt < before ? keyId : undefined;
}

/** An SQS batch of S3 notifications, a key-registry stream batch, or the scheduled sweep. */
export type VerifierEvent = SQSEvent | DynamoDBStreamEvent | { action: 'sweep' };

let configured: ReturnType<typeof createVerifierHandler> | undefined;

export const handler = (event: VerifierEvent, context: Context) => {
  configured ??= createVerifierHandler(depsFromEnv());
  return configured(event, context);
};
