import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../../../bin/failures.ts';
import { freePort, startTestGate, type TestGate } from '../../helpers/gate.ts';
import { vouch } from './binary.ts';

/**
 * The one error mapper, seen as a pipeline sees it: the real binary against real local servers, a
 * closed port, and stubs answering as AWS does when it refuses. One line, cause and next step, exit 3;
 * the stack only with VOUCH_DEBUG=1.
 */
let gate: TestGate;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'vouch-cli-failures-'));
const artifact = join(dir, 'app.bin');
writeFileSync(artifact, 'app bytes');

beforeAll(async () => {
  gate = await startTestGate();
  env = { ...gate.env };
});
afterAll(async () => {
  await gate?.close();
});

/** An HTTP server that answers every request as AWS does when it refuses one. */
async function refusingService(status: number, headers: Record<string, string>, body: string) {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(status, { 'x-amzn-requestid': 'stub', ...headers });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const oneLine = (stderr: string) => {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/NodeVersionSupportWarning|Warning:/);
};

describe('when the local stack is not running', () => {
  it('says which service cannot be reached where, and to start the stack; exit 3', async () => {
    const port = await freePort();
    const run = await vouch(['status', 'releases/app.bin'], {
      env: { ...env, AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}` },
    });
    expect(run.code).toBe(3);
    oneLine(run.stderr);
    expect(run.stderr).toBe(
      `vouch status: cannot reach DynamoDB at http://127.0.0.1:${port} (connection refused) — is \`npm start\` running? Start it, then \`source .vouch/env\`\n`,
    );
  });

  it('prints the stack trace under it with VOUCH_DEBUG=1', async () => {
    const port = await freePort();
    const run = await vouch(['upload', artifact, '--prefix', 'releases/'], {
      env: { ...env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`, VOUCH_DEBUG: '1' },
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      `vouch upload: cannot reach S3 at http://127.0.0.1:${port} (connection refused)`,
    );
    expect(run.stderr).toMatch(/ECONNREFUSED[\s\S]*\n\s+at /);
  });
});

describe('when the environment is incomplete', () => {
  it('no region', async () => {
    const { AWS_REGION: _region, ...noRegion } = env;
    const run = await vouch(['status', 'releases/app.bin'], { env: noRegion });
    expect(run.code).toBe(3);
    oneLine(run.stderr);
    expect(run.stderr).toMatch(
      /^vouch status: no AWS region is configured — set AWS_REGION .*`source \.vouch\/env`/,
    );
  });

  it('no credentials', async () => {
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noCredentials } = env;
    const run = await vouch(['keys', 'list'], { env: noCredentials });
    expect(run.code).toBe(3);
    oneLine(run.stderr);
    expect(run.stderr).toMatch(/^vouch keys: no AWS credentials found — sign in .* set AWS_PROFILE/);
  });

  it('credentials the service does not accept', async () => {
    const run = await vouch(['upload', artifact, '--prefix', 'releases/'], {
      env: { ...env, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wrong' },
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /vouch upload: S3 PutObject on s3:\/\/vouch-staging\/releases\/app\.bin: AWS did not accept the credentials \((InvalidAccessKeyId|SignatureDoesNotMatch)\)/,
    );
  });

  it('a records table that does not exist, naming the variable and the stack output', async () => {
    const run = await vouch(['status', 'releases/app.bin'], { env: { ...env, VOUCH_RECORDS_TABLE: 'nope' } });
    expect(run.code).toBe(3);
    oneLine(run.stderr);
    expect(run.stderr).toBe(
      'vouch status: table nope does not exist in us-east-1 — $VOUCH_RECORDS_TABLE names it: set it to the stack output RecordsTableName (for the local stack, `source .vouch/env`)\n',
    );
  });

  it('a bucket that does not exist, saying nothing was sent', async () => {
    const run = await vouch(['upload', artifact, '--bucket', 'no-such-bucket'], { env });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('sent before the failure: nothing; not sent: app.bin');
    expect(run.stderr).toContain(
      'vouch upload: bucket no-such-bucket does not exist in us-east-1 — check --bucket',
    );
  });

  it('a KMS key that does not exist', async () => {
    const run = await vouch(
      ['sign', artifact, '--key', 'alias/no-such-key', '--builder-id', 'https://ci.example'],
      {
        env,
      },
    );
    expect(run.code).toBe(3);
    oneLine(run.stderr);
    expect(run.stderr).toMatch(
      /^vouch sign: KMS key alias\/no-such-key does not exist in us-east-1 — check --key/,
    );
  });
});

describe('when AWS refuses', () => {
  it('access denied names the operation, the resource and the IAM action', async () => {
    const s3 = await refusingService(
      403,
      { 'content-type': 'application/xml' },
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
    );
    try {
      const run = await vouch(['upload', artifact, '--prefix', 'other-team/'], {
        env: { ...env, AWS_ENDPOINT_URL_S3: s3.endpoint },
      });
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(
        'vouch upload: access denied: S3 PutObject on s3://vouch-staging/other-team/app.bin needs s3:PutObject — the credentials in use lack it (Access Denied)',
      );
    } finally {
      await s3.close();
    }
  });

  it('access denied on KMS quotes what AWS said about who was refused', async () => {
    const kms = await refusingService(
      400,
      { 'content-type': 'application/x-amz-json-1.1' },
      JSON.stringify({
        __type: 'AccessDeniedException',
        message:
          'User: arn:aws:sts::111122223333:assumed-role/uploader/ci is not authorized to perform: kms:DescribeKey on resource: alias/vouch-signing',
      }),
    );
    try {
      const run = await vouch(['sign', artifact, '--builder-id', 'https://ci.example'], {
        env: { ...env, AWS_ENDPOINT_URL_KMS: kms.endpoint },
      });
      expect(run.code).toBe(3);
      oneLine(run.stderr);
      expect(run.stderr).toContain(
        'access denied: KMS DescribeKey on KMS key alias/vouch-signing/app needs kms:DescribeKey — the credentials in use lack it (User: arn:aws:sts::111122223333:assumed-role/uploader/ci is not authorized',
      );
    } finally {
      await kms.close();
    }
  });

  it('throttling, after the SDK has retried', async () => {
    const dynamodb = await refusingService(
      400,
      { 'content-type': 'application/x-amz-json-1.0' },
      JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
        message: 'Rate of requests exceeds the allowed throughput.',
      }),
    );
    try {
      const run = await vouch(['status', 'releases/app.bin'], {
        // Two attempts, not the default three: what is tested is the message after a retry, not the
        // SDK's backoff (a throttling retry waits up to seconds).
        env: { ...env, AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint, AWS_MAX_ATTEMPTS: '2' },
      });
      expect(run.code).toBe(3);
      oneLine(run.stderr);
      expect(run.stderr).toMatch(
        /^vouch status: DynamoDB Query on table vouch-records was throttled \(2 attempts\) — .* run the command again later/,
      );
    } finally {
      await dynamodb.close();
    }
  });
});

describe('#describeFailure', () => {
  it('maps an error it does not know to exit 4, an internal error', () => {
    expect(describeFailure(new TypeError("Cannot read properties of undefined (reading 'x')"), {})).toEqual({
      message:
        "internal error: Cannot read properties of undefined (reading 'x') — run again with VOUCH_DEBUG=1 for the stack trace, and report it",
      exit: 4,
    });
  });

  it('maps a port in use to exit 3, naming the option that moves it', () => {
    const error = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:4568'), {
      code: 'EADDRINUSE',
      address: '127.0.0.1',
      port: 4568,
    });
    expect(describeFailure(error, {}, { portOptions: { 4568: '--s3-port' } })).toEqual({
      message:
        'port 4568 is already in use on 127.0.0.1 — is another `npm start` running? Stop it, or choose another port with --s3-port',
      exit: 3,
    });
  });
});
