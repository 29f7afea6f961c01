import { SignerClient } from '@aws-sdk/client-signer';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { s3Client } from '#adapters/clients.ts';
import { type SignCodeDeps, type SignCodeRequest, signCode } from './sign.ts';

/** Kept back from the function's timeout to answer CloudFormation whatever happens. */
const MARGIN_MS = 30_000;

export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/**
 * The CloudFormation custom resource that signs a Vouch function's bundle before the function is
 * created or updated (lib/code-signing.ts). It always answers CloudFormation, failure included: a custom
 * resource that never answers holds the deployment for an hour.
 */
export async function handleSignCode(
  event: CloudFormationCustomResourceEvent,
  deps: Omit<SignCodeDeps, 'budgetMs'> & { budgetMs: number },
  respond: (url: string, response: CustomResourceResponse) => Promise<void>,
): Promise<CustomResourceResponse> {
  const base = {
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  let response: CustomResourceResponse;
  try {
    if (event.RequestType === 'Delete') {
      // Signed copies stay in their bucket until its lifecycle expires them: a rollback may need one.
      response = { ...base, Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId };
    } else {
      const signed = await signCode(event.ResourceProperties as unknown as SignCodeRequest, deps);
      response = {
        ...base,
        Status: 'SUCCESS',
        PhysicalResourceId: signed.jobId,
        Data: { Bucket: signed.bucket, Key: signed.key },
      };
    }
  } catch (error) {
    response = {
      ...base,
      Status: 'FAILED',
      Reason: (error as Error).message.slice(0, 3000),
      PhysicalResourceId:
        event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId,
    };
  }
  await respond(event.ResponseURL, response);
  return response;
}

/** Answers CloudFormation through the pre-signed URL it gave. */
export async function putResponse(url: string, response: CustomResourceResponse): Promise<void> {
  const body = JSON.stringify(response);
  const answer = await fetch(url, {
    method: 'PUT',
    body,
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) },
  });
  if (!answer.ok) throw new Error(`CloudFormation refused the response: HTTP ${answer.status}`);
}

const s3 = s3Client();
const signer = new SignerClient({});

export const handler = (event: CloudFormationCustomResourceEvent, context: Context) =>
  handleSignCode(
    event,
    { s3, signer, budgetMs: Math.max(0, context.getRemainingTimeInMillis() - MARGIN_MS) },
    putResponse,
  );
