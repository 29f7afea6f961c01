import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseS3Notification } from '#core/index.ts';
import { sqsRecord } from '../../local/queue.ts';

type QueueHandler = (event: SQSEvent, context: Context) => Promise<unknown>;

let messages = 0;

/**
 * Delivers queued S3 notifications through the verifier's queue handler until none is left, `batchSize`
 * to an SQS message batch, and returns what went wrong, naming the objects. A batch item failure is an
 * exception in the pipeline (SQS would redeliver it until it lands in the DLQ), never a verdict.
 *
 * Nothing is waited for: s3rver emits an object's event before it answers the PUT, so once an upload
 * has been awaited its notification is in the list already.
 */
export async function deliverAll(
  handler: QueueHandler,
  notifications: string[],
  batchSize = 1,
): Promise<string[]> {
  const problems: string[] = [];
  while (notifications.length > 0) {
    const bodies = notifications.splice(0, batchSize);
    const keys = bodies.flatMap((body) => safeKeys(body));
    const event: SQSEvent = { Records: bodies.map((body) => sqsRecord(body, `message-${++messages}`)) };
    try {
      const response = (await handler(event, {} as Context)) as SQSBatchResponse;
      if (response.batchItemFailures.length > 0) problems.push(`${keys}: batch item failure`);
    } catch (error) {
      // A batch whose every message failed: Powertools throws, carrying the pipeline's errors.
      const causes = ((error as { recordErrors?: Error[] }).recordErrors ?? [error as Error]).map(
        (e) => `${e.name}: ${e.message}`,
      );
      problems.push(`${keys}: ${causes.join('; ')}`);
    }
  }
  return problems;
}

function safeKeys(body: string): string[] {
  try {
    return parseS3Notification(body).map((event) => event.key.slice(0, 80));
  } catch {
    return [body.slice(0, 40)];
  }
}
