import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Pipeline } from './pipeline.ts';
import { type Observability, powertools, report, verifierFromEnv } from './wiring.ts';

/**
 * The revocation re-check: the key registry's stream carries every change to a key; a revocation is one
 * whose new image has a `revokedAt` the old one did not have, or an earlier one (the effective time only
 * moves earlier). Everything that key vouched for is assessed again.
 */
export function createStreamHandler(
  pipeline: Pipeline,
  observe: Observability = powertools,
  prepare: () => Promise<void> = async () => {},
) {
  const { logger, metrics } = observe;
  const processRecord = async (record: DynamoDBRecord) => {
    const keyId = revokedKeyId(record);
    if (!keyId) return;
    const outcomes = await pipeline.recheckKey(keyId);
    logger.info('revocation re-check', {
      keyId,
      rechecked: outcomes.length,
      quarantined: outcomes.filter((o) => o.status === 'quarantined').map((o) => o.objectKey),
    });
    for (const outcome of outcomes) report(observe, outcome, Date.now());
  };
  return async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
    try {
      await prepare();
      // A processor per invocation: it holds the batch's records and failures, and invocations of one
      // handler may overlap (the local queue runs several at once; one Lambda environment never does).
      const processor = new BatchProcessor(EventType.DynamoDBStreams);
      return await processPartialResponse(event, processRecord, processor, { context });
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

export function revokedKeyId(record: DynamoDBRecord): string | undefined {
  const next = record.dynamodb?.NewImage;
  const revokedAt = next?.revokedAt?.S;
  const keyId = next?.keyId?.S;
  if (!revokedAt || !keyId) return undefined;
  const before = record.dynamodb?.OldImage?.revokedAt?.S;
  return before === undefined || Date.parse(revokedAt) < Date.parse(before) ? keyId : undefined;
}

let configured: ReturnType<typeof createStreamHandler> | undefined;

export const handler = (event: DynamoDBStreamEvent, context: Context) => {
  const { pipeline, prepare } = verifierFromEnv();
  configured ??= createStreamHandler(pipeline, powertools, prepare);
  return configured(event, context);
};
