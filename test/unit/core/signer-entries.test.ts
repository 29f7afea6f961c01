import { describe, expect, it } from 'vitest';
import { compilePolicy, type PolicySpec, type SignerSpec, VouchError } from '#core/index.ts';
import { compileSigner } from '#core/signers.ts';
import { testKey } from '../../helpers/keys.ts';

const load = (signers: SignerSpec[], threshold?: number) =>
  compilePolicy(
    {
      version: 1,
      rules: [
        {
          name: 'r',
          match: ['**'],
          require: [{ type: 'https://slsa.dev/provenance/v1', signers, ...(threshold ? { threshold } : {}) }],
        },
      ],
    } satisfies PolicySpec,
    'sha256:test',
  );
const refusal = (signers: SignerSpec[], threshold?: number) => {
  try {
    load(signers, threshold);
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return (error as VouchError).message;
  }
  throw new Error('expected the policy to be refused');
};
const ISSUER = 'https://token.actions.githubusercontent.com';

describe('signer entries that are different signers', () => {
  // Each pair would be "one signer listed twice" if their entries shared an ID.
  it.each<[string, SignerSpec[]]>([
    [
      'two inline public keys',
      [{ publicKey: testKey().publicKeyPem }, { publicKey: testKey().publicKeyPem }],
    ],
    [
      'two identities of one issuer',
      [
        { issuer: ISSUER, identity: 'a@example.com' },
        { issuer: ISSUER, identity: 'b@example.com' },
      ],
    ],
    [
      'two identity patterns of one issuer',
      [
        { issuer: ISSUER, identityRegexp: 'a-.*@example\\.com' },
        { issuer: ISSUER, identityRegexp: 'b-.*@example\\.com' },
      ],
    ],
    [
      'one identity on two Sigstore instances',
      [
        { issuer: ISSUER, identity: 'a@example.com' },
        { issuer: ISSUER, identity: 'a@example.com', instance: 'github' },
      ],
    ],
    ['the keys of two pipelines', [{ registry: { pipeline: 'app' } }, { registry: { pipeline: 'web' } }]],
  ])('can be listed together toward a threshold of two: %s', (_what, signers) => {
    expect(load(signers, 2).rules[0]?.requirements[0]?.signers).toHaveLength(2);
  });
});

describe('thresholds over signer entries', () => {
  it.each<[string, SignerSpec]>([
    ['an inline public key', { publicKey: testKey().publicKeyPem }],
    ['the keys of one named pipeline', { registry: { pipeline: 'app' } }],
  ])('refuse a threshold of two over %s: one signer', (_what, signer) => {
    expect(refusal([signer], 2)).toMatch(/threshold 2 can never be met by 1 allowed signer/);
  });

  it('allow a threshold of two over one identity pattern: it matches an open set', () => {
    const signers: SignerSpec[] = [{ issuer: ISSUER, identityRegexp: '.*@example\\.com' }];
    expect(load(signers, 2).rules[0]?.requirements[0]?.threshold).toBe(2);
  });
});

describe('inline public keys', () => {
  const a = testKey();
  const b = testKey();

  it('are each trusted once, however often the policy writes them', () => {
    const policy = compilePolicy(
      {
        version: 1,
        rules: [
          {
            name: 'one',
            match: ['a/**'],
            require: [{ type: 't', signers: [{ publicKey: a.publicKeyPem }] }],
          },
          {
            name: 'two',
            match: ['b/**'],
            require: [{ type: 't', signers: [{ publicKey: b.publicKeyPem }, { publicKey: a.publicKeyPem }] }],
          },
        ],
      },
      'sha256:test',
    );
    expect(policy.inlineKeys.map((key) => key.keyId)).toEqual([a.keyId, b.keyId]);
  });

  it('allow only their own key', () => {
    const entry = compileSigner({ publicKey: a.publicKeyPem }, 'w', []);
    expect(entry.allows({ kind: 'key', keyId: a.keyId }, {})).toBe(true);
    expect(entry.allows({ kind: 'key', keyId: b.keyId }, { keyOrigin: 'registry' })).toBe(false);
  });
});

describe('identity patterns', () => {
  it('are Unicode patterns: `.` is one code point, an astral character included', () => {
    const entry = compileSigner({ issuer: ISSUER, identityRegexp: 'user-.@example\\.com' }, 'w', []);
    const signer = (san: string) =>
      ({ kind: 'keyless', issuer: ISSUER, subjectAlternativeName: san }) as const;
    expect(entry.allows(signer('user-\u{1F600}@example.com'), {})).toBe(true);
    expect(entry.allows(signer('user-ab@example.com'), {})).toBe(false);
  });
});

describe('{ registry: true }', () => {
  const entry = compileSigner({ registry: true }, 'w', []);
  const key = { kind: 'key', keyId: 'arn:aws:kms:us-east-1:000000000000:key/app' } as const;
  const context = { keyOrigin: 'registry', keyPipeline: 'app' } as const;

  it("allows a pipeline's key only where that pipeline owns the object key", () => {
    expect(entry.allows(key, { ...context, owner: 'app' })).toBe(true);
    expect(entry.allows(key, { ...context, owner: 'web' })).toBe(false);
    expect(entry.allows(key, { ...context, owner: null })).toBe(false);
  });

  it('allows every registry key where no pipelines are configured (`vouch verify`)', () => {
    expect(entry.allows(key, context)).toBe(true);
  });
});
