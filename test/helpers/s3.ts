import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver, { type S3rverEvent } from 's3rver';
import { asS3Record } from '../../local/stack.ts';
import { TEST_CREDENTIALS } from './dynamo.ts';

export interface TestS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  /** S3 notification bodies as S3 would send them to SQS: one record each, keys URL-encoded. */
  readonly notifications: string[];
  close(): Promise<void>;
}

/** Real s3rver on an ephemeral port with the given buckets; its events are turned into S3-style notifications. */
export async function startS3(buckets: readonly string[], notifyBucket: string): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'vouch-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  for (const bucket of buckets)
    await client.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
  const notifications: string[] = [];
  server.on('event', (event: S3rverEvent) => {
    for (const record of event.Records) {
      if (record.s3.bucket.name !== notifyBucket) continue;
      notifications.push(JSON.stringify({ Records: [asS3Record(record)] }));
    }
  });
  return {
    endpoint,
    client,
    notifications,
    close: async () => {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
