import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeSigningJobCommand, type SignerClient, StartSigningJobCommand } from '@aws-sdk/client-signer';

/** What the stack asks for: sign one Lambda bundle the CDK uploaded, into the signed-code bucket. */
export interface SignCodeRequest {
  /** Where the CDK put the bundle (its bootstrap asset bucket, which is versioned). */
  readonly SourceBucket: string;
  readonly SourceKey: string;
  readonly DestinationBucket: string;
  readonly DestinationPrefix: string;
  /** The AWS Signer profile the function's code-signing configuration trusts. */
  readonly ProfileName: string;
}

export interface SignedCode {
  readonly jobId: string;
  readonly bucket: string;
  readonly key: string;
}

export interface SignCodeDeps {
  readonly s3: Pick<S3Client, 'send'>;
  readonly signer: Pick<SignerClient, 'send'>;
  /** Time left for the whole job (the function's remaining time, less a margin). */
  readonly budgetMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Signs one bundle with AWS Signer and waits for the signed copy. Signer signs an exact object version,
 * so the bundle's current version is looked up first: what is signed is what the CDK uploaded.
 */
export async function signCode(request: SignCodeRequest, deps: SignCodeDeps): Promise<SignedCode> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + deps.budgetMs;
  const { VersionId } = await deps.s3.send(
    new HeadObjectCommand({ Bucket: request.SourceBucket, Key: request.SourceKey }),
  );
  if (!VersionId || VersionId === 'null') {
    throw new Error(
      `s3://${request.SourceBucket}/${request.SourceKey} has no version: AWS Signer signs only objects in a ` +
        'versioned bucket (the CDK bootstrap asset bucket is one; was the stack bootstrapped with a custom bucket?)',
    );
  }
  const { jobId } = await deps.signer.send(
    new StartSigningJobCommand({
      profileName: request.ProfileName,
      source: { s3: { bucketName: request.SourceBucket, key: request.SourceKey, version: VersionId } },
      destination: { s3: { bucketName: request.DestinationBucket, prefix: request.DestinationPrefix } },
    }),
  );
  if (!jobId) throw new Error('AWS Signer StartSigningJob returned no job ID');
  for (let wait = 1000; ; wait = Math.min(wait * 2, 10_000)) {
    const job = await deps.signer.send(new DescribeSigningJobCommand({ jobId }));
    if (job.status === 'Succeeded') {
      const signed = job.signedObject?.s3;
      if (!signed?.bucketName || !signed.key)
        throw new Error(`signing job ${jobId} succeeded without a signed object`);
      return { jobId, bucket: signed.bucketName, key: signed.key };
    }
    if (job.status === 'Failed') {
      throw new Error(`signing job ${jobId} failed: ${job.statusReason ?? 'no reason given'}`);
    }
    if (now() + wait > deadline)
      throw new Error(`signing job ${jobId} still ${job.status} when time ran out`);
    await sleep(wait);
  }
}
