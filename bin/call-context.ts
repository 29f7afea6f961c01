// What a failed AWS call was, read by the failure messages (bin/failures.ts) of every command. No SDK
// import here: `vouch verify` and the usage errors load this module, and never the AWS SDK.

/** What a failed AWS call was: attached to the error so the one-line message can name it. */
export interface CallContext {
  /** `S3`, `DynamoDB`, `KMS`. */
  readonly service: string;
  /** `PutObject`, `Query`, `Sign`. */
  readonly operation: string;
  /** What the call named, where it named one. */
  readonly bucket?: string;
  readonly key?: string;
  readonly table?: string;
  readonly kmsKey?: string;
  readonly function?: string;
}

/** `s3://bucket/key`, `table vouch-records`, `KMS key alias/vouch-signing`. */
export function resourceOf(call: CallContext): string | undefined {
  if (call.bucket !== undefined) return `s3://${call.bucket}${call.key === undefined ? '' : `/${call.key}`}`;
  if (call.table !== undefined) return `table ${call.table}`;
  if (call.kmsKey !== undefined) return `KMS key ${call.kmsKey}`;
  if (call.function !== undefined) return `function ${call.function}`;
  return undefined;
}

/** The property, on an SDK error, holding its CallContext (set by the CLI's clients, bin/aws.ts). */
export const CONTEXT = Symbol.for('vouch.callContext');

export const callContextOf = (error: unknown): CallContext | undefined =>
  typeof error === 'object' && error !== null
    ? ((error as Record<symbol, CallContext | undefined>)[CONTEXT] ?? undefined)
    : undefined;
