import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TrustedKey } from '#core/index.ts';
import {
  ARTIFACT,
  codes,
  decide,
  firstSignature,
  flipBase64,
  IDENTITY,
  ISSUER,
  policyFor,
  statementAbout,
  tampered,
} from '../../helpers/decide.ts';
import { testKey } from '../../helpers/keys.ts';
import {
  type BundleJson,
  DEFAULT_SIGNING_TIME,
  keyedBundle,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

const statement = { statement: statementAbout() };
const at = (seconds: number) => new Date(DEFAULT_SIGNING_TIME.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

/** Rewrites the checkpoint note of a bundle's first entry (its signature lines are kept). */
function editCheckpoint(bundle: BundleJson, edit: (note: string[], signatures: string) => string): string {
  return tampered(bundle, (b) => {
    const proof = b.verificationMaterial.tlogEntries[0].inclusionProof;
    const [note = '', signatures = ''] = proof.checkpoint.envelope.split('\n\n');
    proof.checkpoint.envelope = edit(note.split('\n'), signatures);
  });
}

describe('Rekor v1 entries in keyless bundles', () => {
  describe.each([
    ['an inclusion promise only', { proof: false }, 'v0.1'],
    ['an inclusion proof and a promise', {}, 'v0.3'],
  ] as const)('with %s', (_name, tlog, mediaType) => {
    it('is accepted with the integrated time as the signing time', () => {
      const decision = decide(keylessBundle({ content: statement, mediaType, tlog }));
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)).toMatchObject({
        timeSource: 'transparency-log',
        signingTimes: [iso(2)],
      });
    });
  });

  describe('with an inclusion proof but no promise', () => {
    it('is accepted with an RFC 3161 timestamp, whose time is a signing time', () => {
      const decision = decide(
        keylessBundle({ content: statement, tlog: { promise: false }, timestamps: [{ at: at(1) }] }),
      );
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)?.signingTimes).toContain(iso(1));
    });

    it('is rejected without a timestamp (TIMESTAMP_INVALID): a proof does not vouch for the integrated time', () => {
      const decision = decide(
        keylessBundle({ content: statement, tlog: { promise: false }, timestamps: false }),
      );
      expect(decision.accepted).toBe(false);
      expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
    });

    it('is not rejected for an integrated time outside the certificate: nothing verified that time', () => {
      const decision = decide(
        keylessBundle({
          content: statement,
          tlog: { promise: false, integratedTime: at(3600) },
          timestamps: [{}],
        }),
      );
      expect(decision.reasons).toEqual([]);
    });
  });

  describe('when the inclusion promise was tampered', () => {
    it('rejects with TLOG_INVALID', () => {
      const bundle = keylessBundle({ content: statement });
      const decision = decide(
        tampered(bundle, (b) => {
          const promise = b.verificationMaterial.tlogEntries[0].inclusionPromise;
          promise.signedEntryTimestamp = flipBase64(promise.signedEntryTimestamp);
        }),
      );
      expect(decision.accepted).toBe(false);
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  describe('when the promise was signed by another log under this log ID', () => {
    it('rejects with TLOG_INVALID', () => {
      const ours = keylessBundle({ content: statement });
      const theirs = keylessBundle({ instance: testInstance({ name: 'elsewhere' }), content: statement });
      const decision = decide(
        tampered(ours, (b) => {
          b.verificationMaterial.tlogEntries[0].inclusionPromise =
            theirs.verificationMaterial.tlogEntries[0]?.inclusionPromise;
        }),
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  describe('when the checkpoint was tampered', () => {
    const bundle = keylessBundle({ content: statement });

    it('rejects a changed root hash with TLOG_INVALID (the note signature no longer verifies)', () => {
      const decision = decide(
        editCheckpoint(bundle, ([origin, size, , ...rest], signatures) =>
          [origin, size, Buffer.alloc(32, 7).toString('base64'), ...rest, '', signatures].join('\n'),
        ),
      );
      expect(decision.accepted).toBe(false);
      expect(firstSignature(decision)?.error).toMatchObject({
        code: 'TLOG_INVALID',
        message: 'invalid checkpoint signature',
      });
    });

    it("rejects a note signed by another key under the log's name and key hint with TLOG_INVALID", () => {
      const forger = testInstance({ name: 'elsewhere' }).rekor;
      const decision = decide(
        editCheckpoint(bundle, (note, signatures) => {
          const text = `${note.join('\n')}\n`;
          const [, name = '', signature = ''] = /^\u2014 (\S+) (\S+)$/m.exec(signatures) ?? [];
          const hint = Buffer.from(signature, 'base64').subarray(0, 4);
          const forged = sign('sha256', Buffer.from(text), forger?.keys.privateKey as never);
          return `${text}\n\u2014 ${name} ${Buffer.concat([hint, forged]).toString('base64')}\n`;
        }),
      );
      expect(firstSignature(decision)?.error).toMatchObject({
        code: 'TLOG_INVALID',
        message: 'invalid checkpoint signature',
      });
    });

    it('rejects a genuine checkpoint of another tree with TLOG_INVALID', () => {
      const other = keylessBundle({ content: statement });
      const decision = decide(
        tampered(bundle, (b) => {
          b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint =
            other.verificationMaterial.tlogEntries[0]?.inclusionProof?.checkpoint;
        }),
      );
      expect(firstSignature(decision)?.error).toMatchObject({
        code: 'TLOG_INVALID',
        message: 'calculated root hash does not match inclusion proof',
      });
    });

    it('rejects a changed audit path with TLOG_INVALID', () => {
      const decision = decide(
        tampered(bundle, (b) => {
          const proof = b.verificationMaterial.tlogEntries[0].inclusionProof;
          proof.hashes[0] = flipBase64(proof.hashes[0], 16);
        }),
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  describe("when the entry is another signature's", () => {
    it('rejects with TLOG_INVALID (the body names another signature)', () => {
      const bundle = keylessBundle({ content: statement });
      const other = keylessBundle({ content: statement });
      const decision = decide(
        tampered(bundle, (b) => {
          b.verificationMaterial.tlogEntries = other.verificationMaterial.tlogEntries;
        }),
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  describe('when the trusted root does not trust the log', () => {
    it('rejects with TLOG_INVALID', () => {
      const decision = decide(keylessBundle({ content: statement }), {
        trustRoot: testInstance({ rekor: false }).trustRoot,
      });
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });

    it("rejects an integrated time after the log key's validity window with TLOG_INVALID", () => {
      const retired = testInstance({ rekor: { validFor: { end: at(0) } } });
      const decision = decide(keylessBundle({ content: statement }), { trustRoot: retired.trustRoot });
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });

    it('accepts an integrated time equal to the end of the window (closed interval)', () => {
      const ending = testInstance({ rekor: { validFor: { end: at(2) } } });
      const decision = decide(keylessBundle({ content: statement }), { trustRoot: ending.trustRoot });
      expect(decision.reasons).toEqual([]);
    });
  });
});

describe('Rekor v2 entries (no integrated time, no promise)', () => {
  describe.each(['ed25519', 'p256'] as const)('from a log with an %s key', (keyType) => {
    const instance = testInstance({ rekorV2: { keyType } });
    const options = { instance, tlog: { log: 'rekorV2' as const } };

    it('accepts a DSSE bundle (dsse 0.0.2) with an RFC 3161 timestamp as its signing time', () => {
      const decision = decide(
        keylessBundle({ ...options, content: statement, timestamps: [{ at: at(1) }] }),
        {
          trustRoot: instance.trustRoot,
        },
      );
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)).toMatchObject({
        timeSource: 'timestamp-authority',
        signingTimes: [iso(1)],
      });
    });

    it('accepts a message signature (hashedrekord 0.0.2) with an RFC 3161 timestamp', () => {
      const decision = decide(
        keylessBundle({ ...options, content: { artifact: ARTIFACT }, timestamps: [{}] }),
        {
          trustRoot: instance.trustRoot,
          policy: policyFor([{ issuer: ISSUER, identity: IDENTITY }], 'signature'),
        },
      );
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)?.timeSource).toBe('timestamp-authority');
    });

    it('rejects a bundle without a timestamp with TIMESTAMP_INVALID', () => {
      const decision = decide(keylessBundle({ ...options, content: statement, timestamps: false }), {
        trustRoot: instance.trustRoot,
      });
      expect(firstSignature(decision)?.error?.code).toBe('TIMESTAMP_INVALID');
    });

    it('rejects a tampered checkpoint with TLOG_INVALID', () => {
      const bundle = keylessBundle({ ...options, content: statement });
      const decision = decide(
        editCheckpoint(bundle, ([origin, , root], signatures) =>
          [origin, '99', root, '', signatures].join('\n'),
        ),
        { trustRoot: instance.trustRoot },
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  it('rejects an entry of a v2 log the root does not trust with TLOG_INVALID', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: { log: 'rekorV2' } }), {
      trustRoot: testInstance({ rekorV2: false }).trustRoot,
    });
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });

  it('rejects the entry of another signature with TLOG_INVALID', () => {
    const bundle = keylessBundle({ content: statement, tlog: { log: 'rekorV2' } });
    const other = keylessBundle({ content: statement, tlog: { log: 'rekorV2' } });
    const decision = decide(
      tampered(bundle, (b) => {
        b.verificationMaterial.tlogEntries = other.verificationMaterial.tlogEntries;
      }),
    );
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });

  it('accepts a bundle logged in both a v1 and a v2 log', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: [{}, { log: 'rekorV2' }] }));
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)?.signingTimes).toEqual([iso(2)]);
  });
});

describe('keyed bundles with log entries', () => {
  const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/tlog');
  /** Valid for one day around the signing time; `observedAt` outside it shows which time was used. */
  const window = (extra: Partial<TrustedKey> = {}) => [
    key.trusted({ origin: 'registry', validFrom: at(-3600), validUntil: at(86_400), ...extra }),
  ];
  const registry = policyFor([{ registry: true }]);
  const late = at(30 * 86_400);

  it('without entries or timestamps, is judged at the observed time (KEY_NOT_VALID_AT_TIME when late)', async () => {
    const decision = decide(await keyedBundle({ key, content: statement }), {
      policy: registry,
      keys: window(),
      observedAt: late,
    });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('KEY_NOT_VALID_AT_TIME');
  });

  describe('with an inclusion promise', () => {
    it('is judged at the integrated time, which the promise covers', async () => {
      const bundle = await keyedBundle({ key, content: statement, tlog: { integratedTime: at(60) } });
      const decision = decide(bundle, { policy: registry, keys: window(), observedAt: late });
      expect(decision.reasons).toEqual([]);
      expect(decision.keyIds).toEqual([key.keyId]);
      expect(firstSignature(decision)).toMatchObject({
        timeSource: 'transparency-log',
        signingTimes: [iso(60)],
      });
    });

    it('rejects an integrated time before the key was valid with KEY_NOT_VALID_AT_TIME', async () => {
      const bundle = await keyedBundle({ key, content: statement, tlog: { integratedTime: at(-7200) } });
      const decision = decide(bundle, { policy: registry, keys: window(), observedAt: at(60) });
      expect(decision.accepted).toBe(false);
      expect(firstSignature(decision)?.error?.code).toBe('KEY_NOT_VALID_AT_TIME');
    });

    it('rejects an integrated time after the revocation took effect', async () => {
      const bundle = await keyedBundle({ key, content: statement, tlog: { integratedTime: at(120) } });
      const decision = decide(bundle, {
        policy: registry,
        keys: window({ status: 'revoked', revokedAt: at(60) }),
        observedAt: at(30),
      });
      expect(decision.accepted).toBe(false);
      // KEY_REVOKED is what the registry says; @sigstore/verify's own validity check (PUBLIC_KEY_ERROR)
      // reaches Vouch first today and reads as KEY_NOT_VALID_AT_TIME. Either way: the revoked key fails.
      expect(['KEY_REVOKED', 'KEY_NOT_VALID_AT_TIME']).toContain(firstSignature(decision)?.error?.code);
    });

    it('rejects a tampered promise with TLOG_INVALID', async () => {
      const bundle = await keyedBundle({ key, content: statement, tlog: {} });
      const decision = decide(
        tampered(bundle, (b) => {
          const promise = b.verificationMaterial.tlogEntries[0].inclusionPromise;
          promise.signedEntryTimestamp = flipBase64(promise.signedEntryTimestamp);
        }),
        { policy: registry, keys: window() },
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });

    it('accepts a message signature logged as hashedrekord', async () => {
      const bundle = await keyedBundle({ key, content: { artifact: ARTIFACT }, tlog: {} });
      const decision = decide(bundle, {
        policy: policyFor([{ registry: true }], 'signature'),
        keys: window(),
      });
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)?.timeSource).toBe('transparency-log');
    });
  });

  describe('with an inclusion proof but no promise', () => {
    const proofOnly = () =>
      keyedBundle({ key, content: statement, tlog: { proof: true, promise: false, integratedTime: at(60) } });

    it('is accepted when its integrated time and the observed time are both in the window', async () => {
      const decision = decide(await proofOnly(), { policy: registry, keys: window(), observedAt: at(120) });
      expect(decision.reasons).toEqual([]);
    });

    it('is judged at the observed time, not its integrated time, which the proof does not cover', async () => {
      const decision = decide(await proofOnly(), { policy: registry, keys: window(), observedAt: at(120) });
      expect(firstSignature(decision)).toMatchObject({ timeSource: 'observed', signingTimes: [iso(120)] });
    });

    it('rejects a key revoked before the upload with KEY_REVOKED, however early the entry claims to be', async () => {
      // The uploader rewrote integratedTime to before the revocation: an inclusion proof does not cover it.
      const revoked = [key.trusted({ origin: 'registry', validFrom: at(0), revokedAt: at(100) })];
      const decision = decide(await proofOnly(), { policy: registry, keys: revoked, observedAt: at(120) });
      expect(decision.accepted).toBe(false);
      expect(firstSignature(decision)?.error?.code).toBe('KEY_REVOKED');
    });

    it('rejects a tampered checkpoint with TLOG_INVALID: the proof is still checked', async () => {
      const decision = decide(
        editCheckpoint(await proofOnly(), ([origin, size, , ...rest], signatures) =>
          [origin, size, Buffer.alloc(32).toString('base64'), ...rest, '', signatures].join('\n'),
        ),
        { policy: registry, keys: window(), observedAt: at(120) },
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  describe('with a Rekor v2 entry', () => {
    it('has no time of its own: without a timestamp, the observed time is the signing time', async () => {
      const bundle = await keyedBundle({ key, content: statement, tlog: { log: 'rekorV2' } });
      const decision = decide(bundle, { policy: registry, keys: window(), observedAt: at(300) });
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)).toMatchObject({ timeSource: 'observed', signingTimes: [iso(300)] });
    });

    it('is judged at its RFC 3161 timestamp when it has one', async () => {
      const bundle = await keyedBundle({
        key,
        content: statement,
        tlog: { log: 'rekorV2' },
        timestamps: [{ at: at(5) }],
      });
      const decision = decide(bundle, { policy: registry, keys: window(), observedAt: late });
      expect(decision.reasons).toEqual([]);
      expect(firstSignature(decision)).toMatchObject({
        timeSource: 'timestamp-authority',
        signingTimes: [iso(5)],
      });
    });

    it('rejects an entry whose checkpoint was tampered with TLOG_INVALID', async () => {
      const bundle = await keyedBundle({ key, content: statement, tlog: { log: 'rekorV2' } });
      const decision = decide(
        editCheckpoint(bundle, ([origin, , root], signatures) =>
          [origin, '12345', root, '', signatures].join('\n'),
        ),
        { policy: registry, keys: window(), observedAt: at(300) },
      );
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  it('rejects an entry from a log the root does not trust with TLOG_INVALID', async () => {
    const bundle = await keyedBundle({
      key,
      content: statement,
      instance: testInstance({ name: 'elsewhere' }),
      tlog: {},
    });
    const decision = decide(bundle, { policy: registry, keys: window() });
    expect(decision.accepted).toBe(false);
    expect(codes(decision)).toContain('TLOG_INVALID');
  });
});
