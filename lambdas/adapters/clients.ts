import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * AWS clients configured the same way in Lambda, the CLI and the local stack. Endpoints come from the
 * SDK's own AWS_ENDPOINT_URL_S3 / _DYNAMODB / _KMS variables, so only the environment differs locally.
 */
export function s3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client({
    // A custom endpoint (the local stack) has no virtual-hosted bucket DNS.
    forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL),
    // Checksums only where S3 requires them: flexible checksums on streamed bodies break on S3-compatible
    // servers, and Vouch verifies content by its own digest anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export const kmsClient = (): KMSClient => new KMSClient({});

export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
