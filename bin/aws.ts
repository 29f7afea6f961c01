import { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { documentClient, kmsClient, s3Client, settingsFrom } from '#adapters/clients.ts';

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

const CONTEXT = Symbol.for('vouch.callContext');

export const callContextOf = (error: unknown): CallContext | undefined =>
  typeof error === 'object' && error !== null
    ? ((error as Record<symbol, CallContext | undefined>)[CONTEXT] ?? undefined)
    : undefined;

interface Annotatable {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<unknown>,
        context: { clientName?: string; commandName?: string },
      ) => (args: { input: object }) => Promise<unknown>,
      options: { step: 'initialize'; name: string; override: boolean },
    ): void;
  };
}

/**
 * Records, on any error a call ends with (after the SDK's retries), which service, operation and
 * resource it was, so a failure reads "S3 PutObject on s3://bucket/key" instead of a bare stack.
 */
function annotated<C>(client: C): C {
  (client as unknown as Annotatable).middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (typeof error === 'object' && error !== null && !(CONTEXT in error)) {
          const call: CallContext = {
            service: serviceName(context.clientName),
            operation: (context.commandName ?? 'request').replace(/Command$/, ''),
            ...namedIn(args.input as Record<string, unknown>),
          };
          Object.defineProperty(error, CONTEXT, { value: call, enumerable: false });
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'vouchCallContext', override: true },
  );
  return client;
}

const serviceName = (clientName = '') =>
  clientName.startsWith('DynamoDB') ? 'DynamoDB' : clientName.replace(/Client$/, '') || 'AWS';

function namedIn(input: Record<string, unknown>): Omit<CallContext, 'service' | 'operation'> {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const named = {
    bucket: text(input.Bucket),
    key: text(input.Key),
    table: text(input.TableName),
    kmsKey: text(input.KeyId) ?? text(input.AliasName),
    function: text(input.FunctionName),
  };
  return Object.fromEntries(Object.entries(named).filter(([, value]) => value !== undefined));
}

/**
 * The CLI's AWS clients: configured as everywhere else (adapters/clients.ts), from the environment the
 * command was given (`io.env`: the process's, or a test's), with call context on errors.
 */
export const cliClients = {
  s3: (env: NodeJS.ProcessEnv): S3Client => annotated(s3Client(env, settingsFrom(env, 'S3'))),
  kms: (env: NodeJS.ProcessEnv) => annotated(kmsClient(settingsFrom(env, 'KMS'))),
  documents: (env: NodeJS.ProcessEnv) => annotated(documentClient(settingsFrom(env, 'DYNAMODB'))),
  lambda: (env: NodeJS.ProcessEnv) => annotated(new LambdaClient(settingsFrom(env, 'LAMBDA'))),
  sts: (env: NodeJS.ProcessEnv) => annotated(new STSClient(settingsFrom(env, 'STS'))),
};
