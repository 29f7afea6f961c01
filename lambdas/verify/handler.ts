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
      // The batch's summaries are signed together (one KMS call for the artifacts promoted at once).
      return await pipeline.invocation(() =>
        processPartialResponse(event, attestationsFirst(event.Records, processRecord), processor, {
          context,
        }),
      );
    } finally {
      metrics.publishStoredMetrics();
    }
  };

  /**
   * An artifact and its attestation often arrive in one batch. Indexed first, the attestation is there
   * when the artifact is assessed: one assessment that promotes, not a pending record, a wake-up and a
   * second assessment. Artifacts wait for the batch's attestations to be handled, whatever their outcome.
   */
  function attestationsFirst(records: readonly SQSRecord[], handle: (record: SQSRecord) => Promise<void>) {
    const first = new Set(records.filter(isAttestationMessage));
    let remaining = first.size;
    let release = () => {};
    const indexed = remaining === 0 ? Promise.resolve() : new Promise<void>((resolve) => (release = resolve));
    return async (record: SQSRecord) => {
      if (!first.has(record)) {
        await indexed;
        return handle(record);
      }
      try {
        return await handle(record);
      } finally {
        if (--remaining === 0) release();
      }
    };
  }

  function isAttestationMessage(record: SQSRecord): boolean {
    try {
      const events = parseS3Notification(record.body);
      return events.length > 0 && events.every(pipeline.isAttestation);
    } catch {
      return false;
    }
  }
}

let configured: ReturnType<typeof createQueueHandler> | undefined;

export const handler = (event: SQSEvent, context: Context) => {
  const { pipeline, prepare } = verifierFromEnv();
  configured ??= createQueueHandler(pipeline, powertools, prepare);
  return configured(event, context);
};
