/**
 * Retries for the rotation run. Right after a deployment creates the rotation role, and right after
 * CreateKey returns, IAM policies, tag-conditioned permissions and the new key itself may not be
 * visible everywhere yet (KMS documents up to minutes for tag and alias changes to take effect in
 * authorization). Those errors say nothing happened, so the step is tried again, with backoff, until a
 * budget of time is spent.
 */

/** Refusals: the request had no effect, and may succeed if made again a little later. */
const REFUSED = new Set([
  // Permissions not propagated yet: the role's policy, a tag condition, a key policy naming a new role.
  'AccessDeniedException',
  // A key or alias created a moment ago, not yet visible to the endpoint that answered.
  'NotFoundException',
  // KMS refuses a policy naming a principal it cannot see yet.
  'MalformedPolicyDocumentException',
  'ThrottlingException',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
]);
/** Failures after which the request may or may not have taken effect. */
const UNCERTAIN = new Set([
  'DependencyTimeoutException',
  'KMSInternalException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

type AwsError = {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
};

/** A refusal: safe to retry even a step that is not idempotent. */
export function isRefusal(error: unknown): boolean {
  const name = (error as AwsError | undefined)?.name;
  return name !== undefined && REFUSED.has(name);
}

/** Worth retrying a step that can safely be done twice. */
export function isTransient(error: unknown): boolean {
  const e = error as AwsError | undefined;
  if (!e || typeof e !== 'object') return false;
  if (isRefusal(e) || (e.name && UNCERTAIN.has(e.name))) return true;
  if (e.code && NETWORK.has(e.code)) return true;
  if (e.$retryable) return true;
  return (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** A transient error that outlasted the retry budget: nothing is known to be wrong, only not yet right. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  readonly code = 'RETRIES_EXHAUSTED';

  readonly attempts: number;
  override readonly cause: unknown;

  constructor(attempts: number, cause: unknown) {
    super(`still failing after ${attempts} attempts: ${(cause as Error)?.message ?? String(cause)}`);
    this.attempts = attempts;
    this.cause = cause;
  }
}

export interface RetryOptions {
  /** How long, from the first attempt, retrying may go on. */
  readonly budgetMs: number;
  /** @default 1000 */
  readonly baseDelayMs?: number;
  /** @default 30_000 */
  readonly maxDelayMs?: number;
  /** Injected by tests, so no test waits for real. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called before each wait, to log what is being retried. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs a step. `retryable` says which errors are worth another attempt: `isTransient` for a step that can
 * be done twice, `isRefusal` for one that cannot (CreateKey: a timeout may have created a key).
 */
export type Attempt = <T>(step: () => Promise<T>, retryable?: (error: unknown) => boolean) => Promise<T>;

/**
 * Returns a function that runs a step, retrying transient errors with exponential backoff and jitter
 * while the budget (shared by every step it runs) lasts. Other errors are thrown at once; a transient
 * one that outlasts the budget is thrown as RetriesExhaustedError.
 */
export function retrier(options: RetryOptions): Attempt {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 30_000;
  const deadline = now() + options.budgetMs;
  return async <T>(step: () => Promise<T>, retryable = isTransient): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (!retryable(error)) throw error;
        const ceiling = Math.min(max, base * 2 ** (attempt - 1));
        // Half fixed, half random: concurrent runs spread out, and each wait still grows.
        const delay = Math.round(ceiling / 2 + random() * (ceiling / 2));
        if (now() + delay > deadline) throw new RetriesExhaustedError(attempt, error);
        options.onRetry?.(error, attempt, delay);
        await sleep(delay);
      }
    }
  };
}

/** Runs each step once: what callers without a budget (the CLI, the local stack) get. */
export const once: Attempt = (step) => step();
