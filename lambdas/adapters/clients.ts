import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * AWS clients configured the same way in Lambda, the CLI and the local stack. Endpoints come from the
 * SDK's own AWS_ENDPOINT_URL_S3 / _DYNAMODB / _KMS variables, so only the environment differs locally.
 * `config` is for callers that must name an endpoint outright (the local gate's own inspection clients).
 */
export function s3Client(env: NodeJS.ProcessEnv = process.env, config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    // A custom endpoint (the local stack) has no virtual-hosted bucket DNS.
    forcePathStyle: Boolean(config.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL),
    // Checksums only where S3 requires them: flexible checksums on streamed bodies break on S3-compatible
    // servers, and Vouch verifies content by its own digest anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  });
}

export const kmsClient = (config: KMSClientConfig = {}): KMSClient => new KMSClient(config);

export function documentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * Client settings read from an explicit environment rather than the process's: the Lambda passes
 * `process.env` (the same as the SDK's defaults), the local stack its own endpoints and credentials,
 * and nothing needs to write into `process.env` for a client to find its server.
 */
export function settingsFrom(
  env: NodeJS.ProcessEnv,
  service: 'S3' | 'KMS' | 'DYNAMODB' | 'EVENTBRIDGE' | 'LAMBDA' | 'STS',
) {
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  };
}

/** What a caller may set on a client besides the environment (the local gate's tests: fast retries). */
export type ClientOverrides = Pick<S3ClientConfig & KMSClientConfig & DynamoDBClientConfig, 'retryStrategy'>;

/**
 * The three clients a function uses, configured from `env`. `overrides` is called once per client, so
 * each gets its own (a retry strategy holds its client's retry quota).
 */
export function awsClients(
  env: NodeJS.ProcessEnv = process.env,
  overrides: () => ClientOverrides = () => ({}),
) {
  return {
    s3: s3Client(env, { ...settingsFrom(env, 'S3'), ...overrides() }),
    kms: kmsClient({ ...settingsFrom(env, 'KMS'), ...overrides() }),
    documents: documentClient({ ...settingsFrom(env, 'DYNAMODB'), ...overrides() }),
  };
}

export type AwsClients = ReturnType<typeof awsClients>;
