import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle';
import { describe, expect, it } from 'vitest';
import { compilePolicy, evaluate, parseAttestationFile, staticKeyLookup } from '#core/index.ts';

const artifact = Buffer.from('an artifact verified from its streamed digest');
const digests = {
  sha256: createHash('sha256').update(artifact).digest('hex'),
  sha512: createHash('sha512').update(artifact).digest('hex'),
};
const KEY_ID = 'arn:aws:kms:us-east-1:000000000000:key/message';
const policy = compilePolicy(
  {
    version: 1,
    rules: [{ name: 'r', match: ['**'], require: [{ type: 'signature', signers: [{ keyId: KEY_ID }] }] }],
  },
  'sha256:test',
);

/** Verifies a message-signature bundle over `artifact` whose signature is `signature`. */
function verifyWith(publicKey: KeyObject, hash: 'sha256' | 'sha512', signature: Buffer) {
  const bundle = JSON.stringify({
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: KEY_ID }, tlogEntries: [] },
    messageSignature: {
      messageDigest: {
        algorithm: hash === 'sha256' ? 'SHA2_256' : 'SHA2_512',
        digest: createHash(hash).update(artifact).digest('base64'),
      },
      signature: signature.toString('base64'),
    },
  });
  const decision = evaluate({
    artifact: { path: 'bin/app', digests },
    attestations: parseAttestationFile(bundle, 'app.sigstore.json').attestations,
    policy,
    keys: staticKeyLookup([{ keyId: KEY_ID, publicKey }]),
    observedAt: new Date(),
    strict: true,
  });
  const error = decision.attestations[0]?.signatures[0]?.error;
  return { verdict: decision.verdict, error: error?.code, message: error?.message };
}

describe('message signatures checked against a streamed digest, by key type', () => {
  it.each(['sha256', 'sha512'] as const)('accepts ECDSA P-384 over %s', (hash) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(verifyWith(publicKey, hash, sign(hash, artifact, privateKey))).toEqual({
      verdict: 'pass',
      error: undefined,
    });
  });

  it('rejects an RSA signature that is not a PKCS#1 v1.5 block under the key (SIGNATURE_INVALID)', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(verifyWith(publicKey, 'sha256', randomBytes(256))).toEqual({
      verdict: 'fail',
      error: 'SIGNATURE_INVALID',
      message: 'signature verification failed',
    });
  });

  it('refuses Ed25519 keys, which sign the message itself, not its digest (UNSUPPORTED_FORMAT)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    expect(verifyWith(publicKey, 'sha256', sign(null, artifact, privateKey))).toEqual({
      verdict: 'fail',
      error: 'UNSUPPORTED_FORMAT',
      message: 'message signatures with ed25519 keys cannot be checked against a streamed digest',
    });
  });

  it('refuses ECDSA curves other than P-256 and P-384 (UNSUPPORTED_FORMAT)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
    expect(verifyWith(publicKey, 'sha512', sign('sha512', artifact, privateKey))).toEqual({
      verdict: 'fail',
      error: 'UNSUPPORTED_FORMAT',
      message: 'message signatures with curve secp521r1 are not supported',
    });
  });
});
