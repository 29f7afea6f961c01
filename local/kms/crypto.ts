import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
  sign,
  verify,
} from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';

export type KeySpec = 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
export type SigningAlgorithm =
  | 'ECDSA_SHA_256'
  | 'ECDSA_SHA_384'
  | 'ECDSA_SHA_512'
  | 'RSASSA_PSS_SHA_256'
  | 'RSASSA_PSS_SHA_384'
  | 'RSASSA_PSS_SHA_512'
  | 'RSASSA_PKCS1_V1_5_SHA_256'
  | 'RSASSA_PKCS1_V1_5_SHA_384'
  | 'RSASSA_PKCS1_V1_5_SHA_512';

export const KEY_SPECS: readonly KeySpec[] = [
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
];

/** The algorithms KMS allows per key spec. */
export const ALGORITHMS: Record<KeySpec, readonly SigningAlgorithm[]> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  RSA_2048: RSA_ALGORITHMS(),
  RSA_3072: RSA_ALGORITHMS(),
  RSA_4096: RSA_ALGORITHMS(),
};

function RSA_ALGORITHMS(): SigningAlgorithm[] {
  return [
    'RSASSA_PSS_SHA_256',
    'RSASSA_PSS_SHA_384',
    'RSASSA_PSS_SHA_512',
    'RSASSA_PKCS1_V1_5_SHA_256',
    'RSASSA_PKCS1_V1_5_SHA_384',
    'RSASSA_PKCS1_V1_5_SHA_512',
  ];
}

export const hashOf = (algorithm: SigningAlgorithm) =>
  algorithm.endsWith('384') ? 'sha384' : algorithm.endsWith('512') ? 'sha512' : 'sha256';
const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;
export const digestLength = (algorithm: SigningAlgorithm) => DIGEST_BYTES[hashOf(algorithm)];

export function generateKey(spec: KeySpec): string {
  const { privateKey } = spec.startsWith('ECC')
    ? generateKeyPairSync('ec', { namedCurve: spec === 'ECC_NIST_P256' ? 'prime256v1' : 'secp384r1' })
    : generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export const publicKeyDer = (privatePem: string) =>
  createPublicKey(privatePem).export({ type: 'spki', format: 'der' });

const DIGEST_INFO: Record<'sha256' | 'sha384' | 'sha512', Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/**
 * Signs like KMS: RAW messages are hashed with the algorithm's hash, DIGEST messages are the hash.
 * ECDSA over a digest needs @noble/curves (node:crypto always hashes); RSA PKCS#1 v1.5 over a digest is
 * a private-key encryption of the DigestInfo; RSA-PSS over a digest is not offered by node, so DIGEST
 * with PSS is refused here (a documented gap of this emulator, not of KMS).
 */
export function signMessage(
  privatePem: string,
  algorithm: SigningAlgorithm,
  message: Buffer,
  isDigest: boolean,
): Buffer {
  const key = createPrivateKey(privatePem);
  const hash = hashOf(algorithm);
  const digest = isDigest ? message : createHash(hash).update(message).digest();
  if (algorithm.startsWith('ECDSA')) {
    return Buffer.from(ecdsa(key).sign(digest, scalar(key), { prehash: false, format: 'der', lowS: false }));
  }
  if (algorithm.startsWith('RSASSA_PKCS1')) {
    if (!isDigest) return sign(hash, message, key);
    return privateEncryptPkcs1(key, Buffer.concat([DIGEST_INFO[hash], digest]));
  }
  if (isDigest) throw new Error('RSASSA_PSS with MessageType DIGEST is not supported by the local KMS');
  return sign(hash, message, {
    key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: DIGEST_BYTES[hash],
  });
}

export function verifyMessage(
  privatePem: string,
  algorithm: SigningAlgorithm,
  message: Buffer,
  isDigest: boolean,
  signature: Buffer,
): boolean {
  const key = createPublicKey(privatePem);
  const hash = hashOf(algorithm);
  const digest = isDigest ? message : createHash(hash).update(message).digest();
  try {
    if (algorithm.startsWith('ECDSA'))
      return ecdsa(key).verify(signature, digest, point(key), { prehash: false, format: 'der', lowS: false });
    if (algorithm.startsWith('RSASSA_PKCS1')) {
      const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
      return recovered.equals(Buffer.concat([DIGEST_INFO[hash], digest]));
    }
    if (isDigest) return false;
    return verify(
      hash,
      message,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_BYTES[hash] },
      signature,
    );
  } catch {
    return false;
  }
}

const ecdsa = (key: KeyObject) => (key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? p256 : p384);

function scalar(key: KeyObject): Uint8Array {
  return Buffer.from(key.export({ format: 'jwk' }).d ?? '', 'base64url');
}

function point(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
}

function privateEncryptPkcs1(key: KeyObject, data: Buffer): Buffer {
  // PKCS#1 v1.5 signing is a private-key operation on DigestInfo || digest with block type 1 padding.
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data);
}
