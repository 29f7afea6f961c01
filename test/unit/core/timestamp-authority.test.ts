import { describe, expect, it } from 'vitest';
import type { TrustedKey } from '#core/index.ts';
import {
  decide,
  firstSignature,
  flipBase64,
  policyFor,
  statementAbout,
  tampered,
} from '../../helpers/decide.ts';
import { testKey } from '../../helpers/keys.ts';
import {
  DEFAULT_SIGNING_TIME,
  GITHUB_LIKE,
  keyedBundle,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

const statement = { statement: statementAbout() };
const at = (seconds: number) => new Date(DEFAULT_SIGNING_TIME.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const elsewhere = testInstance({ name: 'elsewhere' });

/** Keyless bundles whose only trusted time is an RFC 3161 timestamp (a log entry with a proof, no promise). */
const timestamped = (timestamps: Parameters<typeof keylessBundle>[0]['timestamps']) =>
  keylessBundle({ content: statement, tlog: { promise: false }, timestamps });

describe('RFC 3161 timestamps in keyless bundles', () => {
  it("accepts a timestamp from the root's TSA inside the certificate's window", () => {
    const decision = decide(timestamped([{ at: at(30) }]));
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.signingTimes).toContain(iso(30));
  });

  it('accepts a timestamp and a log promise together, reporting both times', () => {
    const decision = decide(keylessBundle({ content: statement, timestamps: [{ at: at(1) }] }));
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.signingTimes).toEqual([iso(2), iso(1)]);
  });

  it("rejects a timestamp by another instance's TSA with TIMESTAMP_INVALID", () => {
    const decision = decide(timestamped([{ authority: elsewhere }]));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'TIMESTAMP_INVALID',
      message: 'timestamp could not be verified',
    });
  });

  it('rejects a token whose signature was tampered with TIMESTAMP_INVALID', () => {
    const decision = decide(
      tampered(timestamped([{}]), (b) => {
        const token = b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0];
        token.signedTimestamp = flipBase64(token.signedTimestamp);
      }),
    );
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });

  it('rejects a genuine token over another signature with TIMESTAMP_INVALID', () => {
    const decision = decide(timestamped([{ over: Buffer.from('another signature') }]));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });

  it('rejects a timestamp after the signing certificate expired with CERTIFICATE_INVALID', () => {
    const decision = decide(timestamped([{ at: at(601) }]));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it('rejects a timestamp before the signing certificate was issued with CERTIFICATE_INVALID', () => {
    const decision = decide(timestamped([{ at: at(-60) }]));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it("rejects a timestamp outside the TSA's validity window in the root with TIMESTAMP_INVALID", () => {
    const retired = testInstance({ tsa: { validFor: { end: new Date('2026-01-01T00:00:00Z') } } });
    const decision = decide(timestamped([{}]), { trustRoot: retired.trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });

  it('rejects a timestamp when the root trusts no TSA with TIMESTAMP_INVALID', () => {
    const decision = decide(timestamped([{}]), { trustRoot: testInstance({ tsa: false }).trustRoot });
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });
});

describe('a root without transparency or CT logs (like GitHub’s own instance)', () => {
  const github = testInstance(GITHUB_LIKE);

  it('has a CA and a TSA and nothing else', () => {
    expect(github.trustedRoot.tlogs).toEqual([]);
    expect(github.trustedRoot.ctlogs).toEqual([]);
    expect(github.trustedRoot.certificateAuthorities).toHaveLength(1);
    expect(github.trustedRoot.timestampAuthorities).toHaveLength(1);
  });

  it('accepts a bundle with a timestamp from its TSA and neither a log entry nor an SCT', () => {
    const bundle = keylessBundle({ instance: github, content: statement });
    expect(bundle.verificationMaterial.tlogEntries).toEqual([]);
    const decision = decide(bundle, { trustRoot: github.trustRoot });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)).toMatchObject({
      timeSource: 'timestamp-authority',
      signingTimes: [iso(1)],
    });
  });

  it("rejects a bundle carrying another instance's log entry with TLOG_INVALID: no log of its own vouches", () => {
    const bundle = keylessBundle({
      instance: github,
      content: statement,
      tlog: false,
      timestamps: [{}],
    });
    const logged = keylessBundle({ content: statement });
    const decision = decide(
      tampered(bundle, (b) => {
        b.verificationMaterial.tlogEntries = logged.verificationMaterial.tlogEntries;
      }),
      { trustRoot: github.trustRoot },
    );
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });

  it('rejects a bundle without a timestamp with TIMESTAMP_INVALID: nothing else gives a time', () => {
    const bundle = keylessBundle({ instance: github, content: statement, timestamps: false });
    const decision = decide(bundle, { trustRoot: github.trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });

  it("rejects a timestamp by another instance's TSA with TIMESTAMP_INVALID", () => {
    const bundle = keylessBundle({
      instance: github,
      content: statement,
      timestamps: [{ authority: elsewhere }],
    });
    const decision = decide(bundle, { trustRoot: github.trustRoot });
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });

  it("rejects a certificate from another instance's CA with CERTIFICATE_INVALID, even with its TSA's time", () => {
    const bundle = keylessBundle({ content: statement, tlog: false, timestamps: [{ authority: github }] });
    const decision = decide(bundle, { trustRoot: github.trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });
});

describe('what a keyless signature needs follows what its root lists', () => {
  it('a root with a log but no CT log: a log entry, no SCT', () => {
    const instance = testInstance({ ctlog: false });
    const decision = decide(keylessBundle({ instance, content: statement }), {
      trustRoot: instance.trustRoot,
    });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.timeSource).toBe('transparency-log');
  });

  it('a root with a CT log but no log: an SCT and a timestamp, no log entry', () => {
    const instance = testInstance({ rekor: false, rekorV2: false });
    const bundle = keylessBundle({ instance, content: statement });
    expect(decide(bundle, { trustRoot: instance.trustRoot }).reasons).toEqual([]);
    const unlogged = keylessBundle({ instance, content: statement, certificate: { sct: 'missing' } });
    expect(firstSignature(decide(unlogged, { trustRoot: instance.trustRoot }))?.error).toMatchObject({
      code: 'CERTIFICATE_INVALID',
      message: 'expected 1 SCTs, got 0',
    });
  });

  it('a root with both still needs both: no log entry is TLOG_INVALID even with a timestamp', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: false, timestamps: [{}] }));
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });
});

describe('RFC 3161 timestamps in keyed bundles', () => {
  const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/tsa');
  const window = (extra: Partial<TrustedKey> = {}) => [
    key.trusted({ origin: 'registry', validFrom: at(-3600), validUntil: at(86_400), ...extra }),
  ];
  const registry = policyFor([{ registry: true }]);
  const late = at(30 * 86_400);

  it('are the signing time: a key valid then is accepted even if observed late', async () => {
    const bundle = await keyedBundle({ key, content: statement, timestamps: [{ at: at(10) }] });
    const decision = decide(bundle, { policy: registry, keys: window(), observedAt: late });
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)).toMatchObject({
      timeSource: 'timestamp-authority',
      signingTimes: [iso(10)],
    });
  });

  it('reject a timestamp before the key was valid with KEY_NOT_VALID_AT_TIME', async () => {
    const bundle = await keyedBundle({ key, content: statement, timestamps: [{ at: at(-7200) }] });
    const decision = decide(bundle, { policy: registry, keys: window(), observedAt: at(0) });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('KEY_NOT_VALID_AT_TIME');
  });

  it('reject a timestamp after the revocation took effect', async () => {
    const bundle = await keyedBundle({ key, content: statement, timestamps: [{ at: at(120) }] });
    const decision = decide(bundle, {
      policy: registry,
      keys: window({ status: 'revoked', revokedAt: at(60) }),
      observedAt: at(0),
    });
    expect(decision.accepted).toBe(false);
    // See transparency-log.test.ts: the library's own validity check answers first today.
    expect(['KEY_REVOKED', 'KEY_NOT_VALID_AT_TIME']).toContain(firstSignature(decision)?.error?.code);
  });

  it("reject a timestamp by another instance's TSA with TIMESTAMP_INVALID", async () => {
    const bundle = await keyedBundle({ key, content: statement, timestamps: [{ authority: elsewhere }] });
    const decision = decide(bundle, { policy: registry, keys: window() });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
  });
});
