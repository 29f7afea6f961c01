import type { S3Client } from '@aws-sdk/client-s3';
import { documentClient, kmsClient, s3Client, settingsFrom } from '#adapters/clients.ts';
import { type CallContext, CONTEXT } from './call-context.ts';

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
  // Only `vouch keys rotate|revoke` in AWS calls these: loaded then, not by every command.
  lambda: async (env: NodeJS.ProcessEnv) =>
    annotated(new (await import('@aws-sdk/client-lambda')).LambdaClient(settingsFrom(env, 'LAMBDA'))),
  sts: async (env: NodeJS.ProcessEnv) =>
    annotated(new (await import('@aws-sdk/client-sts')).STSClient(settingsFrom(env, 'STS'))),
};
