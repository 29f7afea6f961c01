import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseS3Notification } from '#core/index.ts';
import type { Pipeline } from './pipeline.ts';
import { type Observability, powertools, report, verifierFromEnv } from './wiring.ts';

/**
 * The verifier: S3 notifications from the staging queue. Each message is one notification; a message
 * whose processing hits an infrastructure fault is reported as a batch item failure, retried by SQS, and
 * lands in the DLQ after maxReceiveCount. Verdicts (rejections) are results, recorded, never failures.
 */
export function createQueueHandler(
  pipeline: Pipeline,
  observe: Observability = powertools,
  prepare: () => Promise<void> = async () => {},
) {
  const { logger, metrics } = observe;
  const processRecord = async (record: SQSRecord) => {
    try {
      for (const event of parseS3Notification(record.body)) {
        const started = Date.now();
        // The message ID owns the promotion claim: its own redelivery may take the claim back.
        report(observe, await pipeline.handle(event, record.messageId), started);
      }
    } catch (error) {
      logger.error('message failed; it will be retried', {
        messageId: record.messageId,
        error: error as Error,
      });
      metrics.addMetric('ProcessingErrors', MetricUnit.Count, 1);
      throw error;
    }
  };
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    try {
      await prepare();
      // A processor per invocation: it holds the batch's records and failures, and invocations of one
      // handler may overlap (the local queue runs several at once; one Lambda environment never does).
      const processor = new BatchProcessor(EventType.SQS);
      return await processPartialResponse(event, processRecord, processor, { context });
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

let configured: ReturnType<typeof createQueueHandler> | undefined;

export const handler = (event: SQSEvent, context: Context) => {
  const { pipeline, prepare } = verifierFromEnv();
  configured ??= createQueueHandler(pipeline, powertools, prepare);
  return configured(event, context);
};
