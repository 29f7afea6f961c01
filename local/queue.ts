import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | unknown>;

/** An SQS record carrying `body`, as Lambda's SQS event source delivers it. */
export function sqsRecord(body: string, messageId: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `${messageId}/${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:vouch-verifier',
    awsRegion: 'us-east-1',
  };
}

export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly attempts: number;
  readonly lastError: string;
}

export interface QueueOptions {
  readonly handler: SqsHandler;
  readonly batchSize?: number;
  /** Receives before a message goes to the dead-letter list, as an SQS redrive policy's maxReceiveCount. */
  readonly maxReceiveCount?: number;
  readonly retryDelayMs?: number;
  /** Batches in flight at once, as concurrent Lambda invocations behind an SQS event source. @default 1 */
  readonly concurrency?: number;
  /**
   * As the event source's maximum batching window: a batch smaller than `batchSize` waits until its
   * oldest message has been ready this long. @default 0 (a batch of whatever is ready, at once)
   */
  readonly batchingWindowMs?: number;
}

interface Message {
  readonly messageId: string;
  readonly body: string;
  attempts: number;
  lastError: string;
  /** When it (last) became ready to receive. */
  readyAt: number;
}

/**
 * An in-process stand-in for SQS in front of a Lambda: batches, partial batch failures, redelivery with
 * a delay, a dead-letter list after maxReceiveCount, and up to `concurrency` batches in flight.
 */
export function createEventQueue(options: QueueOptions) {
  const batchSize = options.batchSize ?? 10;
  const maxReceiveCount = options.maxReceiveCount ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const ready: Message[] = [];
  const deadLetters: DeadLetter[] = [];
  const stats = { received: 0, succeeded: 0, retried: 0, deadLettered: 0 };
  let delayed = 0;
  const concurrency = options.concurrency ?? 1;
  const windowMs = options.batchingWindowMs ?? 0;
  /** A pump is due when the oldest ready message's window ends. */
  let windowDue = false;
  let inFlight = 0;
  let idle: (() => void)[] = [];
  let sequence = 0;

  const settleIdle = () => {
    if (ready.length === 0 && delayed === 0 && inFlight === 0) {
      for (const resolve of idle) resolve();
      idle = [];
    }
  };

  const fail = (message: Message, error: string) => {
    message.lastError = error;
    if (message.attempts >= maxReceiveCount) {
      deadLetters.push({
        messageId: message.messageId,
        body: message.body,
        attempts: message.attempts,
        lastError: error,
      });
      stats.deadLettered++;
      return;
    }
    stats.retried++;
    delayed++;
    setTimeout(() => {
      delayed--;
      message.readyAt = Date.now();
      ready.push(message);
      pump();
    }, retryDelayMs * message.attempts);
  };

  async function runBatch(batch: Message[]) {
    for (const message of batch) message.attempts++;
    stats.received += batch.length;
    const event: SQSEvent = {
      Records: batch.map((message) => sqsRecord(message.body, message.messageId, message.attempts)),
    };
    try {
      const response = (await options.handler(event, { functionName: 'vouch-verifier-local' } as Context)) as
        | SQSBatchResponse
        | undefined;
      const failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
      for (const message of batch) {
        if (failed.has(message.messageId)) fail(message, 'reported as a batch item failure');
        else stats.succeeded++;
      }
    } catch (error) {
      // The whole invocation failed: SQS makes every message in the batch visible again.
      for (const message of batch) fail(message, (error as Error).message);
    }
  }

  function pump() {
    while (inFlight < concurrency && ready.length > 0) {
      const wait = ready.length < batchSize ? (ready[0] as Message).readyAt + windowMs - Date.now() : 0;
      if (wait > 0) {
        if (!windowDue) {
          windowDue = true;
          setTimeout(() => {
            windowDue = false;
            pump();
          }, wait);
        }
        break;
      }
      const batch = ready.splice(0, batchSize);
      inFlight++;
      void runBatch(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
    settleIdle();
  }

  return {
    send(body: string) {
      ready.push({ messageId: `local-${++sequence}`, body, attempts: 0, lastError: '', readyAt: Date.now() });
      queueMicrotask(pump);
    },
    /** Resolves once nothing is queued, delayed or in flight. */
    drain(): Promise<void> {
      return new Promise((resolve) => {
        idle.push(resolve);
        queueMicrotask(pump);
      });
    },
    deadLetters,
    stats,
  };
}
