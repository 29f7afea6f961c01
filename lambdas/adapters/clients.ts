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
