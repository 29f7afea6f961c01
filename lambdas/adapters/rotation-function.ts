import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';

/**
 * An administrator's request to the rotation function (the key registry's only writer in AWS), and its
 * answer. The shapes are the function's (lambdas/rotate/requests.ts); here they travel as JSON.
 */
export class RotationFunctionError extends Error {
  override readonly name = 'RotationFunctionError';
}

/** Invokes the function and waits for its answer; a function error is thrown with the function's message. */
export async function invokeRotationFunction(
  lambda: LambdaClient,
  functionName: string,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: Buffer.from(JSON.stringify(request)),
    }),
  );
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new RotationFunctionError(`the rotation function ${functionName} answered with something not JSON`);
  }
  if (response.FunctionError) {
    const message = (body as { errorMessage?: unknown }).errorMessage;
    throw new RotationFunctionError(
      `the rotation function ${functionName} failed (${response.FunctionError}): ${typeof message === 'string' ? message : text}`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RotationFunctionError(`the rotation function ${functionName} answered ${text}`);
  return body as Record<string, unknown>;
}

/** Who the credentials in use are: recorded as who asked for a key change (CloudTrail has the proof). */
export async function callerArn(sts: STSClient): Promise<string | undefined> {
  return (await sts.send(new GetCallerIdentityCommand({}))).Arn;
}
