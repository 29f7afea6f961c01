import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../lib/config.ts';
import { PROJECT_ROOT } from '../../../lib/function.ts';

const load = (raw: unknown) => loadConfig(raw, { baseDir: PROJECT_ROOT });

describe('loadConfig', () => {
  it('fills in secure defaults', () => {
    const config = load(undefined);
    expect(config).toMatchObject({
      stackName: 'Vouch',
      signingKeyAlias: 'alias/vouch-signing',
      vsaKeyAlias: 'alias/vouch-vsa',
      keySpec: 'ECC_NIST_P256',
      rotationPeriodDays: 90,
      graceDays: 7,
      deletionProtection: true,
      verifierMemoryMb: 1769,
      verifierConcurrency: 10,
      // Lambda keeps min(100, account limit) unreserved: a reservation fails on low-limit accounts.
      reserveConcurrency: false,
      signerPrincipalArns: [],
      codeSigning: false,
      verifierBatchSize: 100,
      verifierBatchingWindowSeconds: 1,
      vsaValidityDays: 30,
    });
    expect(config.policyFile).toBe(`${PROJECT_ROOT}policies/default.yaml`);
    expect(config.github).toBeUndefined();
    expect(config.objectLock).toBeUndefined();
  });

  it('accepts the context as a JSON string, as `cdk synth -c vouch=...` passes it', () => {
    expect(load('{"rotationPeriodDays": 30, "graceDays": 3}')).toMatchObject({
      rotationPeriodDays: 30,
      graceDays: 3,
    });
  });

  it.each([
    [{ rotationPeriodDasy: 30 }, /unknown key\(s\) rotationPeriodDasy/],
    [{ keySpec: 'ECC_NIST_P384' }, /keySpec must be one of ECC_NIST_P256/],
    [{ graceDays: 90 }, /graceDays must be less than rotationPeriodDays \(90\)/],
    [{ rotationPeriodDays: 0 }, /rotationPeriodDays must be an integer 1\.\.365, found number 0/],
    [{ rotationPeriodDays: '30' }, /rotationPeriodDays must be an integer 1\.\.365, found the string "30"/],
    [{ signingKeyAlias: 'alias/aws/s3' }, /signingKeyAlias must look like alias\/<name>/],
    [{ signingKeyAlias: 'alias/vouch-vsa' }, /signingKeyAlias and vsaKeyAlias must differ/],
    [{ policyFile: 'policies/missing.yaml' }, /policyFile policies\/missing.yaml does not exist/],
    [{ logRetentionDays: 100 }, /logRetentionDays must be one of/],
    [{ deletionWindowDays: 5 }, /deletionWindowDays must be an integer 7\.\.30/],
    [{ verifierMemoryMb: 512 }, /verifierMemoryMb must be an integer 1769\.\./],
    [{ objectLock: { mode: 'STRICT', days: 1 } }, /objectLock.mode must be GOVERNANCE or COMPLIANCE/],
    [{ objectLock: { mode: 'COMPLIANCE', days: 0 } }, /objectLock.days must be an integer/],
    [{ github: { owner: 'acme' } }, /github.repo must be a repository name/],
    [{ github: { owner: 'acme/evil', repo: 'app' } }, /github.owner must be/],
    [
      { github: { owner: 'acme', repo: 'app', branches: [] } },
      /github.branches must name at least one branch/,
    ],
    [{ github: { owner: 'acme', repo: 'app', branches: ['main:evil'] } }, /invalid branch name/],
    [
      { deployerPrincipalArns: ['arn:aws:iam::123:role/x'] },
      /deployerPrincipalArns must hold IAM role or user ARNs/,
    ],
    [{ alarmEmail: 'ops' }, /alarmEmail must be an email address/],
    [{ signerPrincipalArns: ['acme/app'] }, /signerPrincipalArns must hold IAM role or user ARNs/],
    [{ codeSigning: 'yes' }, /codeSigning must be true or false/],
    [
      { verifierBatchSize: 20, verifierBatchingWindowSeconds: 0 },
      /verifierBatchSize 20 needs verifierBatchingWindowSeconds of at least 1/,
    ],
    [{ verifierBatchSize: 1001 }, /verifierBatchSize must be an integer 1\.\.1000/],
    [{ vsaValidityDays: 0 }, /vsaValidityDays must be an integer 1\.\.3650/],
    [
      {
        github: {
          owner: 'acme',
          repo: 'app',
          oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/gitlab.com',
        },
      },
      /github.oidcProviderArn must be arn:aws:iam::<account>:oidc-provider\/token.actions.githubusercontent.com/,
    ],
    [
      {
        github: {
          owner: 'acme',
          repo: 'app',
          createOidcProvider: true,
          oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
        },
      },
      /github.createOidcProvider cannot be true when github.oidcProviderArn names an existing provider/,
    ],
    [{ stackName: '1bad' }, /stackName must be a CloudFormation stack name/],
    [[], /expected an object, found an array/],
    ['{not json', /not valid JSON/],
  ])('rejects %j with a message naming the key', (raw, message) => {
    expect(() => load(raw)).toThrow(ConfigError);
    expect(() => load(raw)).toThrow(message);
  });

  it('parses the uploader and Object Lock settings', () => {
    const config = load({
      github: { owner: 'acme', repo: 'app', branches: ['main', 'release/*'], createOidcProvider: false },
      objectLock: { mode: 'COMPLIANCE', days: 365 },
    });
    expect(config.github).toEqual({
      owner: 'acme',
      repo: 'app',
      branches: ['main', 'release/*'],
      createOidcProvider: false,
    });
    expect(config.objectLock).toEqual({ mode: 'COMPLIANCE', days: 365 });
  });

  it('creates the GitHub provider by default, and reuses one when it is named', () => {
    expect(load({ github: { owner: 'acme', repo: 'app' } }).github?.createOidcProvider).toBe(true);
    const oidcProviderArn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    expect(load({ github: { owner: 'acme', repo: 'app', oidcProviderArn } }).github).toMatchObject({
      createOidcProvider: false,
      oidcProviderArn,
    });
  });
});
