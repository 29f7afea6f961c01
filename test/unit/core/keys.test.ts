import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  keyHintProblem,
  keyIdOf,
  keyValidAt,
  MAX_KEY_HINT_LENGTH,
  publicKeyFromPem,
  showHint,
  staticKeyLookup,
  VouchError,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';

// A key hint is whatever the uploader wrote (DSSE `keyid` is unauthenticated): its checks, at their edges.

describe('keyHintProblem', () => {
  it.each([
    ['a KMS key ARN', 'arn:aws:kms:us-east-1:000000000000:key/1111'],
    ['a sha256: ID', `sha256:${'a'.repeat(64)}`],
    ['printable ASCII at both ends of the range', '!~'],
    [`${MAX_KEY_HINT_LENGTH} characters`, 'k'.repeat(MAX_KEY_HINT_LENGTH)],
  ])('accepts %s', (_what, hint) => {
    expect(keyHintProblem(hint)).toBeUndefined();
  });

  it.each([
    ['an empty hint', '', /names no key/],
    [
      `${MAX_KEY_HINT_LENGTH + 1} characters`,
      'k'.repeat(MAX_KEY_HINT_LENGTH + 1),
      /257 characters long \(at most 256\)/,
    ],
    ['a space', 'arn:aws:kms key', /spaces, control or non-ASCII/],
    ['a control character', 'key\u0000', /spaces, control or non-ASCII/],
    ['DEL', 'key\u007f', /spaces, control or non-ASCII/],
    ['a non-ASCII letter', 'kéy', /spaces, control or non-ASCII/],
  ])('refuses %s', (_what, hint, why) => {
    expect(keyHintProblem(hint)).toMatch(why);
  });
});

describe('showHint', () => {
  it('quotes a hint of up to 80 characters whole, and cuts a longer one at 80', () => {
    expect(showHint('k'.repeat(80))).toBe(JSON.stringify('k'.repeat(80)));
    expect(showHint('k'.repeat(81))).toBe(JSON.stringify(`${'k'.repeat(80)}…`));
  });
});

describe('staticKeyLookup', () => {
  const a = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/a');
  const b = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/b');

  it('with one key, returns it whatever the hint (the signature must still verify with it)', () => {
    const lookup = staticKeyLookup([a.trusted()]);
    expect(lookup('anything')?.keyId).toBe(a.keyId);
    expect(lookup('')?.keyId).toBe(a.keyId);
  });

  it('with several, finds a key only by its ID', () => {
    const lookup = staticKeyLookup([a.trusted(), b.trusted()]);
    expect(lookup(b.keyId)?.keyId).toBe(b.keyId);
    expect(lookup('anything')).toBeUndefined();
  });

  it('with none, finds nothing', () => {
    expect(staticKeyLookup([])('anything')).toBeUndefined();
  });
});

describe('publicKeyFromPem', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();

  it('reads a public key', () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(publicKeyFromPem(pem).equals(publicKey)).toBe(true);
  });

  it.each([
    ['PKCS#8', pkcs8],
    ['SEC1 (EC PRIVATE KEY)', sec1],
  ])('refuses a %s private key, though one could be derived from it', (_what, pem) => {
    expect(() => publicKeyFromPem(pem, 'vsa.pem')).toThrow(/vsa\.pem: a private key/);
    expect(() => publicKeyFromPem(Buffer.from(pem), 'vsa.pem')).toThrow(VouchError);
  });

  it('refuses what is not a key, naming it, and keeps what the parser said as the cause', () => {
    expect(() => publicKeyFromPem('hello', 'vsa.pem')).toThrow(/vsa\.pem: not a PEM public key/);
    let error: VouchError | undefined;
    try {
      publicKeyFromPem('hello');
    } catch (caught) {
      error = caught as VouchError;
    }
    expect(error?.code).toBe('PARSE_ERROR');
    expect(error?.message).toMatch(/^public key: not a PEM public key \(.+\)$/);
    expect(error?.cause).toBeInstanceOf(Error);
    expect(error?.message).toContain((error?.cause as Error | undefined)?.message);
  });
});

describe('keyIdOf', () => {
  const spkiDigest = (key: KeyObject) =>
    `sha256:${createHash('sha256')
      .update(key.export({ type: 'spki', format: 'der' }))
      .digest('hex')}`;

  it('names an EC key by the digest of its uncompressed SPKI, however the point was written', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const compressed = createPublicKey({
      key: Buffer.concat([
        // SPKI header of a P-256 key with a 33-byte compressed point.
        Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
        ecdhCompressed(publicKey),
      ]),
      format: 'der',
      type: 'spki',
    });
    expect(keyIdOf(compressed)).toBe(spkiDigest(publicKey));
    expect(keyIdOf(publicKey)).toBe(spkiDigest(publicKey));
  });

  it.each([
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['RSA-PSS, which has no JWK form', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey],
    ['Ed25519', generateKeyPairSync('ed25519').publicKey],
  ])('names an %s key by the digest of its SPKI as it is', (_what, publicKey) => {
    expect(keyIdOf(publicKey)).toBe(spkiDigest(publicKey));
  });
});

/** The compressed SEC1 point of a P-256 public key: 02/03 by the parity of y, then x. */
function ecdhCompressed(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x as string, 'base64url');
  const y = Buffer.from(jwk.y as string, 'base64url');
  return Buffer.concat([Buffer.from([(y.at(-1) ?? 0) & 1 ? 3 : 2]), x]);
}

describe('keyValidAt', () => {
  const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/revoked');
  const revokedAt = new Date('2026-06-01T00:00:00.000Z');
  const at = new Date('2026-06-02T00:00:00.000Z');

  it('says when a revoked key was revoked and when it signed, with the reason where one was given', () => {
    expect(keyValidAt(key.trusted({ revokedAt }), at)).toEqual({
      valid: false,
      code: 'KEY_REVOKED',
      message: `key ${key.keyId} was revoked effective ${revokedAt.toISOString()}; signed at ${at.toISOString()}`,
    });
    expect(keyValidAt(key.trusted({ revokedAt, revocationReason: 'key compromise' }), at)).toMatchObject({
      message: `key ${key.keyId} was revoked effective ${revokedAt.toISOString()} (key compromise); signed at ${at.toISOString()}`,
    });
  });
});
