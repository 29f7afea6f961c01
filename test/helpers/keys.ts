import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { keyIdOf, type SignFn, type TrustedKey } from '#core/index.ts';

export interface TestKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  readonly sign: SignFn;
  trusted(window?: Partial<Omit<TrustedKey, 'keyId' | 'publicKey'>>): TrustedKey;
}

/** A real key pair signing with node:crypto, standing in for KMS at the edge of a unit test. */
export function testKey(type: 'p256' | 'p384' | 'rsa' = 'p256', keyId?: string): TestKey {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: type === 'p256' ? 'prime256v1' : 'secp384r1' });
  const id = keyId ?? keyIdOf(publicKey);
  const hash = type === 'p384' ? 'sha384' : 'sha256';
  return {
    keyId: id,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: async (message) => ({ signature: sign(hash, message, privateKey), keyId: id }),
    trusted: (window = {}) => ({ keyId: id, publicKey, ...window }),
  };
}
