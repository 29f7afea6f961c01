import { describe, expect, it } from 'vitest';
import {
  openPolicyBundle,
  POLICY_BUNDLE_TYPE,
  signPolicyBundle,
  signStatement,
  VouchError,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';
import { POLICY_TEXT } from '../../helpers/policy-cases.ts';

const policyKey = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/policy');
const otherKey = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/other');

const failure = async (run: () => Promise<unknown>) => {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return error as VouchError;
  }
  throw new Error('opened');
};

describe('#signPolicyBundle / #openPolicyBundle', () => {
  it('round-trips: the policy, its version, digest and signer', async () => {
    const bundle = JSON.stringify(
      await signPolicyBundle(POLICY_TEXT, 7, policyKey.sign, new Date('2026-06-01T00:00:00Z')),
    );
    const opened = await openPolicyBundle(bundle, policyKey.publicKey);
    expect(opened.version).toBe(7);
    expect(opened.policy.version).toBe(7);
    expect(opened.createdAt).toBe('2026-06-01T00:00:00.000Z');
    expect(opened.signedBy).toBe(policyKey.keyId);
    expect(opened.text).toBe(POLICY_TEXT);
    expect(opened.policy.rules.map((r) => r.name)).toEqual(['releases']);
  });

  it('refuses a bundle signed by another key', async () => {
    const bundle = JSON.stringify(await signPolicyBundle(POLICY_TEXT, 1, otherKey.sign));
    expect((await failure(() => openPolicyBundle(bundle, policyKey.publicKey))).message).toMatch(
      /not signed by the policy key/,
    );
  });

  it('refuses a bundle whose policy text was changed after signing', async () => {
    const bundle = await signPolicyBundle(POLICY_TEXT, 1, policyKey.sign);
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
    statement.predicate.policy = POLICY_TEXT.replace('releases/**', '**');
    const tampered = {
      ...bundle,
      dsseEnvelope: {
        ...bundle.dsseEnvelope,
        payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
      },
    };
    expect((await failure(() => openPolicyBundle(JSON.stringify(tampered), policyKey.publicKey))).code).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('refuses a statement signed by the policy key naming other text', async () => {
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'vouch-policy', digest: { sha256: '0'.repeat(64) } }],
      predicateType: POLICY_BUNDLE_TYPE,
      predicate: { version: 2, createdAt: '2026-06-01T00:00:00Z', policy: POLICY_TEXT },
    } as const;
    const bundle = JSON.stringify(await signStatement(statement, policyKey.sign));
    expect((await failure(() => openPolicyBundle(bundle, policyKey.publicKey))).message).toMatch(
      /not signed by the policy key/,
    );
  });

  it('refuses an unsigned policy file, another predicate type, a bad version', async () => {
    expect((await failure(() => openPolicyBundle(POLICY_TEXT, policyKey.publicKey))).code).toBe(
      'PARSE_ERROR',
    );
    const other = { ...JSON.parse(JSON.stringify(await signPolicyBundle(POLICY_TEXT, 1, policyKey.sign))) };
    const statement = JSON.parse(Buffer.from(other.dsseEnvelope.payload, 'base64').toString());
    statement.predicateType = 'https://slsa.dev/provenance/v1';
    const resigned = JSON.stringify(await signStatement(statement, policyKey.sign));
    expect((await failure(() => openPolicyBundle(resigned, policyKey.publicKey))).message).toMatch(
      /predicate type/,
    );
    await expect(signPolicyBundle(POLICY_TEXT, 0, policyKey.sign)).rejects.toThrow(/integer from 1/);
    await expect(signPolicyBundle(POLICY_TEXT, 1.5, policyKey.sign)).rejects.toThrow(/integer from 1/);
  });

  it('refuses to sign a policy that does not load', async () => {
    await expect(signPolicyBundle('version: 2\n', 1, policyKey.sign)).rejects.toThrow(/policy/);
  });
});
