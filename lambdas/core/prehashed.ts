import { constants, type KeyObject, publicDecrypt } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import type { SignedEntity } from '@sigstore/verify';
import type { Attestation } from './attestation.ts';
import { VouchError } from './errors.ts';

/**
 * A message signature signs the artifact bytes, of which the bundle carries the digest. Rather than
 * holding a multi-gigabyte artifact in memory, the signature is verified over that digest (for ECDSA and
 * RSA PKCS#1 v1.5 the same check, as both sign H(message)); whether the digest is the artifact's is the
 * caller's check, as a statement's subjects are.
 */
export function prehashedContent(
  entity: SignedEntity,
  attestation: Extract<Attestation, { kind: 'signature' }>,
): SignedEntity['signature'] {
  const { algorithm, hex } = attestation.messageDigest;
  const digest = Buffer.from(hex, 'hex');
  return {
    ...entity.signature,
    // The content is a class instance: its methods are not own properties, so the spread above drops them.
    compareDigest: entity.signature.compareDigest.bind(entity.signature),
    compareSignedDigest: entity.signature.compareSignedDigest.bind(entity.signature),
    compareSignature: entity.signature.compareSignature.bind(entity.signature),
    verifySignature: (key) => verifyPrehashed(key, digest, algorithm, entity.signature.signature),
  };
}

const DIGEST_INFO_PREFIX: Record<'sha256' | 'sha512', Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

function verifyPrehashed(key: KeyObject, digest: Buffer, algorithm: 'sha256' | 'sha512', signature: Buffer) {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const jwk = key.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x ?? '', 'base64url'),
      Buffer.from(jwk.y ?? '', 'base64url'),
    ]);
    const options = { prehash: false, lowS: false, format: 'der' } as const;
    if (curve === 'prime256v1') return p256.verify(signature, digest, point, options);
    if (curve === 'secp384r1') return p384.verify(signature, digest, point, options);
    throw new VouchError('UNSUPPORTED_FORMAT', `message signatures with curve ${curve} are not supported`);
  }
  if (type === 'rsa') {
    let decrypted: Buffer;
    try {
      decrypted = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    } catch {
      return false;
    }
    return decrypted.equals(Buffer.concat([DIGEST_INFO_PREFIX[algorithm], digest]));
  }
  throw new VouchError(
    'UNSUPPORTED_FORMAT',
    `message signatures with ${type} keys cannot be checked against a streamed digest`,
  );
}
