import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type SignFn,
  type Statement,
  type SummaryEntry,
  type SummaryEnvelope,
  signPayload,
  summaryGroup,
  verificationSummary,
} from '#core/index.ts';

export interface SignedSummary {
  readonly statement: Statement;
  readonly envelope: SummaryEnvelope;
}

export interface SummarySignerOptions {
  /** The VSA key (KMS): one call per summary. */
  readonly sign: SignFn;
  readonly now: () => Date;
  /** How long a summary is valid after it is signed. */
  readonly validitySeconds: number;
  /** The statements' `resourceUri`: the staging bucket, `s3://BUCKET`. */
  readonly resourceUri: string;
  /** Most artifacts one summary names (its size grows with each). @default 64 */
  readonly maxSubjects?: number;
  /**
   * Longest a promotion waits for the others of its invocation to join its summary, when one of them is
   * slow (a large artifact still being digested). @default 200
   */
  readonly lingerMs?: number;
}

interface Request {
  readonly entry: SummaryEntry;
  readonly resolve: (summary: SignedSummary) => void;
  readonly reject: (error: unknown) => void;
}

/** One invocation's promotions in flight: the work it is doing, and the summaries waiting to be signed. */
interface Scope {
  active: number;
  readonly pending: Request[];
  timer?: NodeJS.Timeout | undefined;
  checking?: NodeJS.Immediate | undefined;
}

/**
 * Signs verification summaries for whole batches: one KMS `Sign` for every artifact an invocation promotes
 * at once, instead of one per artifact. Each message the invocation handles is `track`ed; a promotion
 * asking for its summary waits until every tracked message is either waiting too or done (or `lingerMs`
 * passed), then all waiting entries are signed together, as few statements as their results and policies
 * allow. While a signature is in flight, new requests gather for the next (a group commit). A failed
 * signature fails every promotion that was waiting on it (each is retried); an entry is never signed
 * into a statement with another entry of the same name.
 */
export function createSummarySigner(options: SummarySignerOptions) {
  const maxSubjects = options.maxSubjects ?? 64;
  const lingerMs = options.lingerMs ?? 200;
  const scopes = new AsyncLocalStorage<Scope>();
  const newScope = (): Scope => ({ active: 0, pending: [] });

  /** Runs one invocation: the summaries its messages ask for are signed together. */
  function invocation<T>(fn: () => Promise<T>): Promise<T> {
    return scopes.run(newScope(), fn);
  }

  /** Runs one message's work, counted among those a summary waits for. */
  async function track<T>(fn: () => Promise<T>): Promise<T> {
    const scope = scopes.getStore();
    if (!scope) return fn();
    scope.active++;
    try {
      return await fn();
    } finally {
      scope.active--;
      settle(scope);
    }
  }

  /** The signed summary naming this entry (and the others signed with it). */
  function sign(entry: SummaryEntry): Promise<SignedSummary> {
    // Outside an invocation (a sweep, a re-check, a test calling the pipeline directly): signed alone.
    const scope = scopes.getStore() ?? newScope();
    return new Promise((resolve, reject) => {
      scope.pending.push({ entry, resolve, reject });
      settle(scope);
    });
  }

  function settle(scope: Scope) {
    if (scope.pending.length === 0 || scope.checking) return;
    // Checked once what is runnable now has run: messages started together have all been counted.
    scope.checking = setImmediate(() => {
      scope.checking = undefined;
      if (scope.pending.length === 0) return;
      // Every message in flight is waiting for its summary (or none is left that could join): sign now.
      if (scope.pending.length >= scope.active) flush(scope);
      else scope.timer ??= setTimeout(() => flush(scope), lingerMs);
    });
  }

  function flush(scope: Scope) {
    clearTimeout(scope.timer);
    scope.timer = undefined;
    if (scope.pending.length === 0) return;
    const requests = scope.pending.splice(0);
    for (const chunk of chunks(requests)) void signChunk(chunk);
  }

  /** Requests grouped by result and policy, at most `maxSubjects` each, never one name twice in a chunk. */
  function chunks(requests: readonly Request[]): Request[][] {
    const out: Request[][] = [];
    const open = new Map<string, Request[][]>();
    for (const request of requests) {
      const group = summaryGroup(request.entry);
      const candidates = open.get(group) ?? [];
      let chunk = candidates.find(
        (c) => c.length < maxSubjects && !c.some((other) => other.entry.name === request.entry.name),
      );
      if (!chunk) {
        chunk = [];
        candidates.push(chunk);
        open.set(group, candidates);
        out.push(chunk);
      }
      chunk.push(request);
    }
    return out;
  }

  async function signChunk(chunk: readonly Request[]) {
    try {
      const issuedAt = options.now();
      const statement = verificationSummary(
        chunk.map((request) => request.entry),
        {
          issuedAt,
          validUntil: new Date(issuedAt.getTime() + options.validitySeconds * 1000),
          resourceUri: options.resourceUri,
        },
      );
      const { dsseEnvelope } = await signPayload(Buffer.from(JSON.stringify(statement)), options.sign);
      for (const request of chunk) request.resolve({ statement, envelope: dsseEnvelope });
    } catch (error) {
      for (const request of chunk) request.reject(error);
    }
  }

  return { invocation, track, sign };
}

export type SummarySigner = ReturnType<typeof createSummarySigner>;
