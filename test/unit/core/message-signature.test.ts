import { createHash, sign } from 'node:crypto';
import { Readable } from 'node:stream';
import { BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  digestStream,
  evaluate,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import { type TestKey, testKey } from '../../helpers/keys.ts';

const artifact = Buffer.from('a large artifact, streamed, never held whole');
const digests = {
  sha256: createHash('sha256').update(artifact).digest('hex'),
  sha512: createHash('sha512').update(artifact).digest('hex'),
};

function messageBundle(key: TestKey, hash: 'sha256' | 'sha512', bytes = artifact) {
  return JSON.stringify({
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: key.keyId }, tlogEntries: [] },
    messageSignature: {
      messageDigest: {
        algorithm: hash === 'sha256' ? 'SHA2_256' : 'SHA2_512',
        digest: createHash(hash).update(bytes).digest('base64'),
      },
      signature: sign(hash, bytes, key.privateKey).toString('base64'),
    },
  });
}

const policy = compilePolicy(
  {
    version: 1,
    rules: [{ name: 'bin', match: ['**'], require: [{ type: 'signature', signers: [{ registry: true }] }] }],
  },
  'sha256:test',
);

function decide(
  file: string,
  key: TestKey,
  artifactDigests: Record<string, string> = digests,
  beside = false,
) {
  const { attestations } = parseAttestationFile(file, 'app.sigstore.json');
  for (const attestation of attestations) attestation.beside = beside;
  return evaluate({
    artifact: { path: 'bin/app', digests: artifactDigests },
    attestations,
    policy,
    keys: staticKeyLookup([key.trusted({ origin: 'registry' })]),
    observedAt: new Date(),
  });
}

describe('message-signature bundles (a signature over the artifact itself)', () => {
  describe.each([
    ['P-256', 'p256', 'sha256'],
    ['RSA', 'rsa', 'sha256'],
    ['RSA', 'rsa', 'sha512'],
  ] as const)('signed with %s over %s', (_name, type, hash) => {
    const key = testKey(type, `arn:aws:kms:us-east-1:000000000000:key/${type}`);

    it('is accepted from the streamed digest alone', () => {
      expect(decide(messageBundle(key, hash), key).reasons).toEqual([]);
    });

    it('found through the index for other bytes, is a note (SUBJECT_MISMATCH) and the artifact waits', () => {
      const decision = decide(messageBundle(key, hash, Buffer.from('other')), key);
      expect(decision).toMatchObject({ accepted: false, curable: true });
      const other = createHash(hash).update('other').digest('hex');
      expect(decision.notes).toContainEqual({
        code: 'SUBJECT_MISMATCH',
        message: `the message signature is over ${hash}:${other}, not this artifact`,
        subject: 'app.sigstore.json',
      });
    });

    it('beside the artifact, by an allowed key, for other bytes, rejects it (SUBJECT_MISMATCH)', () => {
      const decision = decide(messageBundle(key, hash, Buffer.from('other')), key, digests, true);
      expect(decision).toMatchObject({ accepted: false, curable: false });
      expect(decision.reasons.map((r) => r.code)).toEqual(['SUBJECT_MISMATCH', 'MISSING_ATTESTATION']);
    });
  });

  it('does not meet a provenance requirement: a signature has no builder or source to check', () => {
    const key = testKey();
    const typed = compilePolicy(
      {
        version: 1,
        rules: [
          {
            name: 'bin',
            match: ['**'],
            require: [
              {
                type: 'https://slsa.dev/provenance/v1',
                signers: [{ registry: true }],
                builderIds: ['https://ci.example/builder'],
              },
            ],
          },
        ],
      },
      'sha256:typed',
    );
    const { attestations } = parseAttestationFile(messageBundle(key, 'sha256'), 'app.sigstore.json');
    for (const attestation of attestations) attestation.beside = true;
    const decision = evaluate({
      artifact: { path: 'bin/app', digests },
      attestations,
      policy: typed,
      keys: staticKeyLookup([key.trusted({ origin: 'registry' })]),
      observedAt: new Date(),
    });
    expect(decision.accepted).toBe(false);
    expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
    expect(decision.attestations.every((report) => report.counted !== true)).toBe(true);
  });

  it('rejects a correct digest with a signature over other bytes (SIGNATURE_INVALID)', () => {
    const key = testKey();
    const bundle = JSON.parse(messageBundle(key, 'sha256'));
    bundle.messageSignature.signature = sign('sha256', Buffer.from('other'), key.privateKey).toString(
      'base64',
    );
    const decision = decide(JSON.stringify(bundle), key);
    expect(decision).toMatchObject({ accepted: false, curable: true });
    expect(decision.notes.map((r) => r.code)).toContain('SIGNATURE_INVALID');
  });

  it('rejects when the artifact digest for the bundle algorithm was not computed (DIGEST_UNAVAILABLE)', () => {
    const key = testKey();
    const decision = decide(messageBundle(key, 'sha512'), key, { sha256: digests.sha256 });
    expect(decision.accepted).toBe(false);
    expect(decision.notes).toContainEqual({
      code: 'DIGEST_UNAVAILABLE',
      message: 'the message signature is over a sha512 digest, which was not computed',
      subject: 'app.sigstore.json',
    });
  });
});

describe('when the artifact is shaped like a DSSE pre-authentication encoding', () => {
  it("refuses an envelope's signature presented as a plain signature of its PAE bytes", async () => {
    const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/pae');
    const statement = createStatement(
      [{ name: 'x', digests: { sha256: 'a'.repeat(64) } }],
      'https://slsa.dev/provenance/v1',
      {},
    );
    const envelope = (await signStatement(statement, key.sign)).dsseEnvelope;
    const pae = dsse.preAuthEncoding(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
    const forged = JSON.stringify({
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: key.keyId }, tlogEntries: [] },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(pae).digest('base64') },
        signature: envelope.signatures[0]?.sig,
      },
    });
    const { digests: paeDigests, paeShaped } = await digestStream(Readable.from([pae]));
    expect(paeShaped).toBe(true);
    const decision = evaluate({
      artifact: { path: 'bin/app', digests: paeDigests, paeShaped },
      attestations: parseAttestationFile(forged, 'forged.sigstore.json').attestations,
      policy,
      keys: staticKeyLookup([key.trusted({ origin: 'registry' })]),
      observedAt: new Date(),
      strict: true,
    });
    expect(decision.accepted).toBe(false);
    expect(decision.reasons).toContainEqual({
      code: 'UNSUPPORTED_FORMAT',
      message:
        'the artifact is shaped like a DSSE pre-authentication encoding; a plain signature over it is refused',
      subject: 'forged.sigstore.json',
    });
    // The same signature does verify as a plain signature when nothing says the bytes are a PAE.
    const unaware = evaluate({
      artifact: { path: 'bin/app', digests: paeDigests },
      attestations: parseAttestationFile(forged, 'forged.sigstore.json').attestations,
      policy,
      keys: staticKeyLookup([key.trusted({ origin: 'registry' })]),
      observedAt: new Date(),
      strict: true,
    });
    expect(unaware.accepted).toBe(true);
  });
});
