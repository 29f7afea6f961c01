import type { RotationConfig } from '#core/rotation.ts';
import { isTransient, RetriesExhaustedError, type RetryOptions } from './retry.ts';
import { type RotationDeps, type RotationOptions, type RotationResult, rotate } from './rotate.ts';

/**
 * A rotation run as invoked: by the schedule (`{ "source": "schedule" }`), the post-deployment trigger
 * (no payload), or an administrator (`{ "force": true }`; see requests.ts for the whole request).
 */
export type RotationEvent = { readonly source?: string; readonly force?: boolean } | null | undefined;

export type RotationOutcome = RotationResult | { readonly deferred: string };

export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export interface RotationLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** The message a deferred run logs: the stack's metric filter counts it and an alarm fires. */
export const DEFERRED_MESSAGE = 'rotation deferred';

/** Time kept back from the function's timeout for the last attempt and the answer. */
const SAFETY_MARGIN_MS = 60_000;

export interface RunOptions {
  readonly logger: RotationLogger;
  /** Clock and sleep for the retries; tests inject them so nothing waits for real. */
  readonly retry?: Pick<RetryOptions, 'now' | 'sleep' | 'random' | 'baseDelayMs' | 'maxDelayMs'>;
}

/**
 * One invocation: a rotation run whose transient failures are retried with backoff for as long as the
 * function has time. What is left after that depends on who asked. A scheduled run fails, so the
 * RotationErrors alarm fires and the scheduler retries. A run after a deployment (the trigger) must not
 * fail the deployment for something that only needs time (permissions or a key not yet visible): it
 * reports the rotation as deferred, logs it (an alarm counts those too), and the next scheduled run
 * finishes the job. An error that time will not fix fails every invocation.
 */
export async function runRotation(
  deps: Omit<RotationDeps, 'retry' | 'leaseMs'>,
  config: RotationConfig,
  event: RotationEvent,
  context: InvocationContext,
  options: RunOptions,
  line: Pick<RotationOptions, 'adopt'> = {},
): Promise<RotationOutcome> {
  const scheduled = event?.source === 'schedule';
  const remaining = context.getRemainingTimeInMillis();
  const budgetMs = Math.max(0, remaining - SAFETY_MARGIN_MS);
  try {
    const result = await rotate(
      {
        ...deps,
        // Held for the whole invocation, so no other run takes over a lease this one is still retrying.
        leaseMs: Math.max(5 * 60_000, remaining + SAFETY_MARGIN_MS),
        retry: {
          ...options.retry,
          budgetMs,
          onRetry: (error, attempt, delayMs) =>
            options.logger.warn('retrying a rotation step', {
              error: (error as Error).name,
              message: (error as Error).message,
              attempt,
              delayMs,
            }),
        },
      },
      config,
      { force: event?.force === true, ...(line.adopt ? { adopt: line.adopt } : {}) },
    );
    options.logger.info('rotation run', { ...result });
    return result;
  } catch (error) {
    if (scheduled || !(error instanceof RetriesExhaustedError || isTransient(error))) throw error;
    const cause = error instanceof RetriesExhaustedError ? (error.cause as Error) : (error as Error);
    options.logger.error(DEFERRED_MESSAGE, {
      error: cause?.name,
      message: (error as Error).message,
      next: 'the next scheduled run',
    });
    return { deferred: (error as Error).message };
  }
}
