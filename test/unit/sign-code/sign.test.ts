import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeSigningJobCommand, StartSigningJobCommand } from '@aws-sdk/client-signer';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type CustomResourceResponse, handleSignCode } from '../../../lambdas/sign-code/handler.ts';
import { type SignCodeRequest, signCode } from '../../../lambdas/sign-code/sign.ts';

const REQUEST: SignCodeRequest = {
  SourceBucket: 'cdk-hnb659fds-assets-123456789012-eu-west-1',
  SourceKey: `${'a'.repeat(64)}.zip`,
  DestinationBucket: 'vouch-signed-code',
  DestinationPrefix: 'signed/',
  ProfileName: 'VouchProfile',
};

/**
 * Fake S3 and Signer clients: the bundle has `version`, and the signing job reports the given statuses
 * one DescribeSigningJob after another. Every command sent is recorded.
 */
function fakes(version: string | undefined, statuses: string[]) {
  const sent: { name: string; input: any }[] = [];
  const record = (command: { constructor: { name: string }; input: unknown }) =>
    sent.push({ name: command.constructor.name, input: command.input });
  const s3 = {
    send: async (command: any) => {
      record(command);
      if (command instanceof HeadObjectCommand) return { VersionId: version };
      throw new Error(`unexpected ${command.constructor.name}`);
    },
  };
  const signer = {
    send: async (command: any) => {
      record(command);
      if (command instanceof StartSigningJobCommand) return { jobId: 'job-1' };
      if (command instanceof DescribeSigningJobCommand) {
        const status = statuses.shift() ?? 'InProgress';
        return {
          status,
          ...(status === 'Failed' ? { statusReason: 'the profile is revoked' } : {}),
          ...(status === 'Succeeded'
            ? { signedObject: { s3: { bucketName: 'vouch-signed-code', key: 'signed/job-1.zip' } } }
            : {}),
        };
      }
      throw new Error(`unexpected ${command.constructor.name}`);
    },
  };
  const clock = { now: 0, waits: [] as number[] };
  return {
    sent,
    clock,
    deps: {
      s3,
      signer,
      now: () => clock.now,
      sleep: async (ms: number) => {
        clock.waits.push(ms);
        clock.now += ms;
      },
    } as any,
  };
}

describe('#signCode', () => {
  it('signs the exact version the CDK uploaded and waits for the signed copy', async () => {
    const { sent, clock, deps } = fakes('v7', ['InProgress', 'InProgress', 'Succeeded']);
    expect(await signCode(REQUEST, { ...deps, budgetMs: 60_000 })).toEqual({
      jobId: 'job-1',
      bucket: 'vouch-signed-code',
      key: 'signed/job-1.zip',
    });
    expect(sent.find((c) => c.name === 'StartSigningJobCommand')?.input).toEqual({
      profileName: 'VouchProfile',
      source: { s3: { bucketName: REQUEST.SourceBucket, key: REQUEST.SourceKey, version: 'v7' } },
      destination: { s3: { bucketName: 'vouch-signed-code', prefix: 'signed/' } },
    });
    expect(clock.waits).toEqual([1000, 2000]);
  });

  it('refuses a bundle in an unversioned bucket: Signer signs object versions only', async () => {
    const { deps } = fakes(undefined, []);
    await expect(signCode(REQUEST, { ...deps, budgetMs: 60_000 })).rejects.toThrow(/has no version/);
  });

  it('reports a failed job with Signer’s reason', async () => {
    const { deps } = fakes('v1', ['Failed']);
    await expect(signCode(REQUEST, { ...deps, budgetMs: 60_000 })).rejects.toThrow(
      'signing job job-1 failed: the profile is revoked',
    );
  });

  it('gives up when the job outlasts the time left', async () => {
    const { deps, clock } = fakes('v1', []);
    await expect(signCode(REQUEST, { ...deps, budgetMs: 20_000 })).rejects.toThrow(
      'signing job job-1 still InProgress when time ran out',
    );
    expect(clock.now).toBeLessThanOrEqual(20_000);
  });
});

describe('#handleSignCode', () => {
  const event = (RequestType: 'Create' | 'Update' | 'Delete') =>
    ({
      RequestType,
      ResponseURL: 'https://cloudformation-custom-resource-response.example/abc',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Vouch/1',
      RequestId: 'request-1',
      LogicalResourceId: 'SignedVerifier',
      ResourceType: 'Custom::VouchSignedCode',
      ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:signing',
      ResourceProperties: { ServiceToken: 'x', ...REQUEST },
      ...(RequestType === 'Create' ? {} : { PhysicalResourceId: 'job-0', OldResourceProperties: {} }),
    }) as unknown as CloudFormationCustomResourceEvent;

  const answers = () => {
    const sent: { url: string; response: CustomResourceResponse }[] = [];
    return {
      sent,
      respond: async (url: string, response: CustomResourceResponse) => void sent.push({ url, response }),
    };
  };

  it('answers CloudFormation with the signed copy’s location', async () => {
    const { deps } = fakes('v1', ['Succeeded']);
    const { sent, respond } = answers();
    await handleSignCode(event('Create'), { ...deps, budgetMs: 60_000 }, respond);
    expect(sent).toEqual([
      {
        url: 'https://cloudformation-custom-resource-response.example/abc',
        response: expect.objectContaining({
          Status: 'SUCCESS',
          PhysicalResourceId: 'job-1',
          Data: { Bucket: 'vouch-signed-code', Key: 'signed/job-1.zip' },
        }),
      },
    ]);
  });

  it('answers a failure too, so the deployment fails at once instead of waiting an hour', async () => {
    const { deps } = fakes('v1', ['Failed']);
    const { sent, respond } = answers();
    await handleSignCode(event('Update'), { ...deps, budgetMs: 60_000 }, respond);
    expect(sent[0]?.response).toMatchObject({
      Status: 'FAILED',
      Reason: 'signing job job-1 failed: the profile is revoked',
      PhysicalResourceId: 'job-0',
    });
  });

  it('keeps the signed copy on delete (a rollback may deploy it again)', async () => {
    const { deps, sent: calls } = fakes('v1', []);
    const { sent, respond } = answers();
    await handleSignCode(event('Delete'), { ...deps, budgetMs: 60_000 }, respond);
    expect(sent[0]?.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'job-0' });
    expect(calls).toEqual([]);
  });
});
