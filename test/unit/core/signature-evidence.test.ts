import { describe, expect, it } from 'vitest';
import { parseAttestationFile, type TrustedKey, verifySignature } from '#core/index.ts';
import { decide, firstSignature, IDENTITY, ISSUER, policyFor, statementAbout } from '../../helpers/decide.ts';
import { testKey } from '../../helpers/keys.ts';
import {
  DEFAULT_SIGNING_TIME,
  keyedBundle,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

const statement = { statement: statementAbout() };
const at = (seconds: number) => new Date(DEFAULT_SIGNING_TIME.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/evidence');
const registry = policyFor([{ registry: true }]);
const valid = (extra: Partial<TrustedKey> = {}) => [
  key.trusted({ origin: 'registry', validFrom: at(-3600), validUntil: at(86_400), ...extra }),
];

describe("a keyed signature's Rekor v2 entry, against its log key's validity window", () => {
  /** A Rekor v2 log whose key was retired before the signature was made. */
  const retired = testInstance({ rekorV2: { validFor: { end: at(0) } } });

  it('is rejected with TLOG_INVALID when an RFC 3161 timestamp puts the signature after the window', async () => {
    const bundle = await keyedBundle({
      key,
      instance: retired,
      content: statement,
      tlog: { log: 'rekorV2' },
      timestamps: [{ at: at(5) }],
    });
    const decision = decide(bundle, { trustRoot: retired.trustRoot, policy: registry, keys: valid() });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });

  it('is accepted without a timestamp: the upload time is no verified time to hold against the window', async () => {
    const bundle = await keyedBundle({
      key,
      instance: retired,
      content: statement,
      tlog: { log: 'rekorV2' },
    });
    const decision = decide(bundle, {
      trustRoot: retired.trustRoot,
      policy: registry,
      keys: valid(),
      observedAt: at(300),
    });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)).toMatchObject({ timeSource: 'observed', signingTimes: [iso(300)] });
  });

  it("records the default instance's root that verified the entry, though it carries no time", async () => {
    const instance = testInstance();
    const bundle = await keyedBundle({ key, instance, content: statement, tlog: { log: 'rekorV2' } });
    const decision = decide(bundle, {
      trustRoot: instance.trustRoot,
      policy: registry,
      keys: valid(),
      observedAt: at(300),
    });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.trustRoot?.instance).toBe('public-good');
  });
});

describe('a keyed signature whose hint names no key, tried against the candidate keys', () => {
  const hintless = async () => {
    const bundle = await keyedBundle({ key, content: statement });
    bundle.verificationMaterial.publicKey = { hint: '' };
    const [attestation] = parseAttestationFile(JSON.stringify(bundle), 'b.sigstore.json').attestations;
    const signature = attestation?.signatures[0];
    if (!attestation || !signature) throw new Error('the bundle did not parse');
    return { attestation, signature };
  };
  const context = (candidateKeys: readonly TrustedKey[]) => ({
    keys: () => undefined,
    keylessRoots: [],
    observedAt: at(120),
    candidateKeys,
  });

  it('verifies with the candidate that signed it', async () => {
    const { attestation, signature } = await hintless();
    const result = verifySignature(attestation, signature, context(valid()));
    expect(result).toMatchObject({ ok: true, value: { signer: { keyId: key.keyId } } });
  });

  it('is rejected for what is wrong with the key that signed it (KEY_REVOKED), not as an unknown key', async () => {
    const { attestation, signature } = await hintless();
    const other = testKey().trusted();
    const revoked = valid({ status: 'revoked', revokedAt: at(60) });
    for (const candidates of [revoked, [...revoked, other]]) {
      const result = verifySignature(attestation, signature, context(candidates));
      expect(result).toMatchObject({ ok: false, error: { code: 'KEY_REVOKED' } });
    }
  });

  it('is UNKNOWN_KEY when no candidate signed it', async () => {
    const { attestation, signature } = await hintless();
    const result = verifySignature(attestation, signature, context([testKey().trusted()]));
    expect(result).toMatchObject({ ok: false, error: { code: 'UNKNOWN_KEY' } });
  });
});

describe('a keyless signature', () => {
  it('with a promised log time and an RFC 3161 timestamp, is timed by both and sourced to the log', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: {}, timestamps: [{ at: at(1) }] }));
    expect(decision.reasons).toEqual([]);
    const report = firstSignature(decision);
    expect(report?.timeSource).toBe('transparency-log');
    expect([...(report?.signingTimes ?? [])].sort()).toEqual([iso(1), iso(2)]);
  });

  it('whose certificate carries no CI claims, names its signer by identity and issuer alone', () => {
    const decision = decide(keylessBundle({ content: statement }));
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.signer).toEqual({
      kind: 'keyless',
      subjectAlternativeName: IDENTITY,
      issuer: ISSUER,
    });
  });
});
