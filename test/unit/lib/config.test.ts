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
      codeSigning: false,
      verifierBatchSize: 100,
      verifierBatchingWindowSeconds: 1,
      vsaValidityDays: 30,
      vsaSigningAlias: 'alias/vouch-vsa/rotating',
      vsaRotationPeriodDays: 365,
    });
    // Before pipelines: one default pipeline, every object key in scope, nobody to upload.
    expect(config.pipelines).toEqual([
      {
        name: 'default',
        alias: 'alias/vouch-signing',
        prefixes: [''],
        uploadPrefixes: [],
        signerPrincipalArns: [],
      },
    ]);
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

  it('parses the uploader of a stack from before pipelines into its default pipeline, and Object Lock', () => {
    const config = load({
      github: { owner: 'acme', repo: 'app', branches: ['main', 'release/*'], createOidcProvider: false },
      signerPrincipalArns: ['arn:aws:iam::123456789012:role/release'],
      objectLock: { mode: 'COMPLIANCE', days: 365 },
    });
    expect(config.github).toEqual({ createOidcProvider: false });
    expect(config.pipelines).toEqual([
      {
        name: 'default',
        alias: 'alias/vouch-signing',
        prefixes: [''],
        uploadPrefixes: ['acme/app/'],
        github: [{ owner: 'acme', repo: 'app', refs: ['refs/heads/main', 'refs/heads/release/*'] }],
        signerPrincipalArns: ['arn:aws:iam::123456789012:role/release'],
      },
    ]);
    expect(config.objectLock).toEqual({ mode: 'COMPLIANCE', days: 365 });
  });

  describe('pipelines', () => {
    const app = { name: 'app', prefixes: ['acme/app/'], github: [{ owner: 'acme', repo: 'app' }] };

    it('gives each pipeline its own alias under the signing alias, the default pipeline the signing alias itself', () => {
      const config = load({
        pipelines: [
          app,
          {
            name: 'default',
            prefixes: ['releases/'],
            github: [{ owner: 'acme', repo: 'release', refs: ['refs/tags/v*'], environment: 'production' }],
          },
          { name: 'offline', prefixes: ['offline/'], alias: 'alias/offline-signing' },
        ],
      });
      expect(config.pipelines.map((p) => [p.name, p.alias])).toEqual([
        ['app', 'alias/vouch-signing/app'],
        ['default', 'alias/vouch-signing'],
        ['offline', 'alias/offline-signing'],
      ]);
      expect(config.pipelines[0]).toMatchObject({
        prefixes: ['acme/app/'],
        uploadPrefixes: ['acme/app/'],
        github: [{ owner: 'acme', repo: 'app', refs: ['refs/heads/main'] }],
      });
      expect(config.pipelines[1]?.github).toEqual([
        { owner: 'acme', repo: 'release', refs: ['refs/tags/v*'], environment: 'production' },
      ]);
      expect(config.github).toEqual({ createOidcProvider: true });
    });

    it.each([
      [{ pipelines: [] }, /pipelines must be a non-empty list/],
      [{ pipelines: [{ ...app, name: 'App' }] }, /"App" is not a pipeline name/],
      [{ pipelines: [{ ...app, prefixes: [''] }] }, /pipelines\[0\].prefixes\[0\] "" is empty/],
      [
        { pipelines: [{ ...app, prefixes: ['acme/*/'] }] },
        /pipelines\[0\].prefixes\[0\] "acme\/\*\/" must be segments/,
      ],
      [
        { pipelines: [app, { name: 'lib', prefixes: ['acme/'] }] },
        /"acme\/app\/" \(app\) and "acme\/" \(lib\) nest/,
      ],
      [{ pipelines: [app, { ...app }] }, /pipeline app is listed twice/],
      [
        {
          pipelines: [
            { ...app, name: 'a-1' },
            { ...app, name: 'a1', prefixes: ['b/'] },
          ],
        },
        /share the stack outputs \*A1/,
      ],
      [{ pipelines: [{ ...app, colour: 'red' }] }, /pipelines\[0\] has unknown key\(s\) colour/],
      [
        { pipelines: [{ ...app, github: [{ owner: 'acme', repo: 'app', refs: ['main'] }] }] },
        /expected refs\/heads\/<branch> or refs\/tags\/<tag>/,
      ],
      [
        { pipelines: [{ ...app, github: [{ owner: 'acme', repo: 'app', refs: ['refs/heads/a:b'] }] }] },
        /refs\/heads\/a:b/,
      ],
      [
        { pipelines: [{ ...app, github: [{ owner: 'acme', repo: 'app', environment: 'prod*' }] }] },
        /environment must be a GitHub environment name/,
      ],
      [{ pipelines: [{ ...app, alias: 'alias/vouch-vsa/rotating' }] }, /is a VSA key's alias/],
      [
        { pipelines: [app], github: { owner: 'acme', repo: 'app' } },
        /github holds the OIDC provider settings only/,
      ],
      [
        { pipelines: [app], signerPrincipalArns: ['arn:aws:iam::123456789012:role/x'] },
        /pipelines\[\]\.signerPrincipalArns/,
      ],
      [
        { pipelines: [{ ...app, signerPrincipalArns: ['x'] }] },
        /signerPrincipalArns must hold IAM role or user ARNs/,
      ],
      [{ vsaRotationPeriodDays: 7 }, /graceDays must be less than vsaRotationPeriodDays \(7\)/],
    ])('rejects %j with a message naming the key', (raw, message) => {
      expect(() => load(raw)).toThrow(message);
    });
  });

  it('creates the GitHub provider by default, and reuses one when it is named', () => {
    expect(load({ github: { owner: 'acme', repo: 'app' } }).github?.createOidcProvider).toBe(true);
    const oidcProviderArn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    expect(load({ github: { owner: 'acme', repo: 'app', oidcProviderArn } }).github).toMatchObject({
      createOidcProvider: false,
      oidcProviderArn,
    });
    // With pipelines, the provider settings alone; none when no pipeline has a GitHub repository.
    const pipelines = [{ name: 'app', prefixes: ['acme/app/'], github: [{ owner: 'acme', repo: 'app' }] }];
    expect(load({ pipelines, github: { oidcProviderArn } }).github).toEqual({
      createOidcProvider: false,
      oidcProviderArn,
    });
    expect(load({ pipelines: [{ name: 'app', prefixes: ['acme/app/'] }] }).github).toBeUndefined();
  });
});
