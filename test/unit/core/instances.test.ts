import { describe, expect, it } from 'vitest';
import {
  loadPolicySyntax,
  namedTrustRoot,
  parsePolicy,
  type SignerSpec,
  type TrustRootRef,
  trustRootSet,
} from '#core/index.ts';
import {
  codes,
  decide,
  firstSignature,
  IDENTITY,
  ISSUER,
  policyFor,
  statementAbout,
} from '../../helpers/decide.ts';
import { testKey } from '../../helpers/keys.ts';
import {
  GITHUB_LIKE,
  keyedBundle,
  keylessBundle,
  type TestInstance,
  testInstance,
} from '../../helpers/sigstore/index.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const statement = { statement: statementAbout() };
const publicGood = testInstance();
const github = testInstance(GITHUB_LIKE);

const named = (instance: TestInstance, ref: Omit<TrustRootRef, 'digest'>) =>
  namedTrustRoot(Buffer.from(JSON.stringify(instance.trustedRoot)), ref);

/** A verifier holding two instances: the test instance as public-good (pinned) and a GitHub-like one (via TUF). */
const roots = trustRootSet([
  named(publicGood, { instance: 'public-good', source: 'pinned' }),
  named(github, {
    instance: 'github',
    source: 'tuf',
    tuf: { root: 3, timestamp: 41, snapshot: 40, targets: 12 },
    verifiedAt: '2026-06-01T00:00:00.000Z',
  }),
]);

const signer = (extra: Partial<{ instance: string | string[] }> = {}): SignerSpec => ({
  issuer: ISSUER,
  identity: IDENTITY,
  ...extra,
});
const fromGithub = keylessBundle({ instance: github, content: statement });
const fromPublicGood = keylessBundle({ content: statement });

describe('keyless signatures under several Sigstore instances', () => {
  it("verifies under the instance the signer names, recording that root's version and digest", () => {
    const decision = decide(fromGithub, {
      trustRoot: roots,
      policy: policyFor([signer({ instance: 'github' })]),
    });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.trustRoot).toEqual({
      instance: 'github',
      source: 'tuf',
      tuf: { root: 3, timestamp: 41, snapshot: 40, targets: 12 },
      verifiedAt: '2026-06-01T00:00:00.000Z',
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
  });

  it('verifies under public-good when the signer names no instance', () => {
    const decision = decide(fromPublicGood, { trustRoot: roots, policy: policyFor([signer()]) });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.trustRoot).toMatchObject({ instance: 'public-good', source: 'pinned' });
  });

  it("rejects a signature of an instance the signer does not trust, though the verifier holds that instance's root", () => {
    const decision = decide(fromGithub, { trustRoot: roots, policy: policyFor([signer()]) });
    expect(decision.accepted).toBe(false);
    // Checked under public-good's root only: its TSA's token is the first thing that root does not trust.
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });

  it('rejects a public-good certificate for a signer who trusts only github', () => {
    const decision = decide(fromPublicGood, {
      trustRoot: roots,
      policy: policyFor([signer({ instance: 'github' })]),
    });
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it('accepts either for a signer trusting both, each recorded with the root that verified it', () => {
    const policy = policyFor([signer({ instance: ['public-good', 'github'] })]);
    const decisions = [fromPublicGood, fromGithub].map((bundle) =>
      decide(bundle, { trustRoot: roots, policy }),
    );
    expect(decisions.map((d) => d.reasons)).toEqual([[], []]);
    expect(decisions.map((d) => firstSignature(d)?.trustRoot?.instance)).toEqual(['public-good', 'github']);
  });

  it('lists every root a decision rests on, one entry per instance', () => {
    const other = 'other@vouch.test';
    const policy = policyFor(
      [signer({ instance: 'public-good' }), { issuer: ISSUER, identity: other, instance: 'github' }],
      undefined,
      2,
    );
    const fromOther = keylessBundle({
      instance: github,
      content: statement,
      identity: { san: { email: other }, issuer: ISSUER },
    });
    const decision = decide([fromPublicGood, fromOther], { trustRoot: roots, policy });
    expect(decision.reasons).toEqual([]);
    expect(decision.trustRoots?.map((root) => root.instance).sort()).toEqual(['github', 'public-good']);
  });

  it('names the root tried first when every root fails', () => {
    const policy = policyFor([signer({ instance: ['github', 'public-good'] })]);
    const other = keylessBundle({ instance: testInstance({ name: 'elsewhere' }), content: statement });
    expect(firstSignature(decide(other, { trustRoot: roots, policy }))?.error).toMatchObject({
      code: 'CERTIFICATE_INVALID',
      message: expect.stringMatching(/\(trusted root github\)$/),
    });
  });

  it('rejects with CERTIFICATE_INVALID when no root is held for the instance the signer names', () => {
    const decision = decide(fromGithub, {
      trustRoot: roots,
      policy: policyFor([signer({ instance: 'staging' })]),
    });
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'CERTIFICATE_INVALID',
      message: expect.stringMatching(/no trusted root to verify its certificate/),
    });
  });

  it('does not let a signature verified under another instance satisfy a signer of this one', () => {
    // Two requirements of one rule: the github signature must not count for the public-good signer.
    const policy = parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [
          {
            name: 'both',
            match: ['**'],
            require: [
              { type: 'https://slsa.dev/provenance/v1', signers: [signer({ instance: 'github' })] },
              { type: 'https://slsa.dev/provenance/v1', signers: [signer()] },
            ],
          },
        ],
      }),
    );
    const decision = decide(fromGithub, { trustRoot: roots, policy });
    expect(decision.accepted).toBe(false);
    expect(codes(decision)).toContain('SIGNER_NOT_ALLOWED');
    expect(decision.reasons.find((r) => r.code === 'SIGNER_NOT_ALLOWED')?.message).toMatch(
      /verified under the github root/,
    );
  });
});

describe('keyed signatures', () => {
  const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/instances');
  const policy = policyFor([{ registry: true }]);
  const keys = [key.trusted({ origin: 'registry' as const })];

  it("record the default instance's root when a timestamp of it was verified", async () => {
    const bundle = await keyedBundle({ key, content: statement, timestamps: [{}] });
    const decision = decide(bundle, { trustRoot: roots, policy, keys });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.trustRoot?.instance).toBe('public-good');
  });

  it('record no root when they carry no log entry or timestamp', async () => {
    const decision = decide(await keyedBundle({ key, content: statement }), {
      trustRoot: roots,
      policy,
      keys,
    });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.trustRoot).toBeUndefined();
  });
});

describe('the instance field of a keyless signer entry', () => {
  const load = (instance: unknown) =>
    parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [{ name: 'r', match: ['**'], require: [{ type: 't', signers: [{ ...signer(), instance }] }] }],
      }),
    );

  it('takes a name or a list of names', () => {
    expect(load('github').rules[0]?.requirements[0]?.signers[0]?.instances).toEqual(['github']);
    expect(load(['public-good', 'github']).rules[0]?.requirements[0]?.signers[0]?.instances).toEqual([
      'public-good',
      'github',
    ]);
  });

  it.each([[''], ['../github'], [[]], [['github', 'github']], [7]])(
    'refuses %j when the policy loads',
    (value) => {
      expect(() => load(value)).toThrow(/\/rules\/0\/require\/0\/signers\/0/);
    },
  );
});
