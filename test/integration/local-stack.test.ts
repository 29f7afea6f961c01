import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { describe, expect, it } from 'vitest';
import { createTableInput, RECORDS_TABLE } from '#adapters/tables.ts';
import { LOCAL_CREDENTIALS, startLocalStack } from '../../local/stack.ts';

const s3For = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

describe('local stack', () => {
  it('keeps objects across a restart on the same data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vouch-stack-'));
    const first = await startLocalStack({ dataDir });
    const client = s3For(first.endpoints.s3);
    await client.send(
      new PutObjectCommand({ Bucket: first.names.stagingBucket, Key: 'kept.txt', Body: 'still here' }),
    );
    client.destroy();
    await first.close();

    const second = await startLocalStack({ dataDir });
    const again = s3For(second.endpoints.s3);
    try {
      const object = await again.send(
        new GetObjectCommand({ Bucket: second.names.stagingBucket, Key: 'kept.txt' }),
      );
      expect(await object.Body?.transformToString()).toBe('still here');
    } finally {
      again.destroy();
      await second.close();
    }
  });

  it('keeps the records of a data directory whose table predates an index, and adds the index', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vouch-stack-'));
    const first = await startLocalStack({ dataDir });
    const old = new DynamoDBClient({
      endpoint: first.endpoints.dynamodb,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    // The records table as an earlier version made it: no digest index (gsi3).
    await old.send(new DeleteTableCommand({ TableName: first.names.recordsTable }));
    const earlier = {
      ...RECORDS_TABLE,
      globalIndexes: RECORDS_TABLE.globalIndexes.filter((i) => i.indexName !== 'gsi3'),
    };
    for (;;) {
      try {
        await old.send(new CreateTableCommand(createTableInput(earlier, first.names.recordsTable)));
        break;
      } catch {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    // dynalite answers CreateTable before the table is ACTIVE; a write in that window is refused.
    while (
      (await old.send(new DescribeTableCommand({ TableName: first.names.recordsTable }))).Table
        ?.TableStatus !== 'ACTIVE'
    )
      await new Promise((resolve) => setImmediate(resolve));
    await old.send(
      new PutItemCommand({
        TableName: first.names.recordsTable,
        Item: { pk: { S: 'OBJ#kept' }, sk: { S: 'V#1' }, gsi3pk: { S: 'DIGEST#sha256:aa' } },
      }),
    );
    old.destroy();
    await first.close();

    const second = await startLocalStack({ dataDir });
    const client = new DynamoDBClient({
      endpoint: second.endpoints.dynamodb,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: second.names.recordsTable }));
      expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(['gsi1', 'gsi2', 'gsi3']);
      const { Items } = await client.send(
        new QueryCommand({
          TableName: second.names.recordsTable,
          IndexName: 'gsi3',
          KeyConditionExpression: 'gsi3pk = :d',
          ExpressionAttributeValues: { ':d': { S: 'DIGEST#sha256:aa' } },
        }),
      );
      expect(Items?.map((item) => item.pk?.S)).toEqual(['OBJ#kept']);
    } finally {
      client.destroy();
      await second.close();
    }
  });

  it('sends staging notifications shaped as S3 sends them (encoded keys, CompleteMultipartUpload)', async () => {
    const stack = await startLocalStack();
    const bodies: string[] = [];
    stack.onStagingNotification((body) => bodies.push(body));
    const client = s3For(stack.endpoints.s3);
    try {
      const key = 'releases/my app+ü.tar.gz';
      await client.send(new PutObjectCommand({ Bucket: stack.names.stagingBucket, Key: key, Body: 'x' }));
      await new Upload({
        client,
        params: { Bucket: stack.names.stagingBucket, Key: 'big.bin', Body: Buffer.alloc(6 * 1024 * 1024, 1) },
        partSize: 5 * 1024 * 1024,
      }).done();
      await client.send(
        new PutObjectCommand({ Bucket: stack.names.deploymentBucket, Key: 'ignored', Body: 'x' }),
      );
      // s3rver emits an object's event before it answers the request: every answered upload is here.
      const records = bodies.map((body) => JSON.parse(body).Records[0]);
      expect(records).toHaveLength(2);
      expect(records[0].s3.object.key).toBe('releases/my+app%2B%C3%BC.tar.gz');
      expect(decodeURIComponent(records[0].s3.object.key.replace(/\+/g, ' '))).toBe(key);
      expect(records[1].eventName).toBe('ObjectCreated:CompleteMultipartUpload');
    } finally {
      client.destroy();
      await stack.close();
    }
  });
});
