import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import {
  DescribeKeyCommand,
  GetPublicKeyCommand,
  type KeySpec,
  type KMSClient,
  SignCommand,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import type { SignFn } from '#core/sign.ts';

/**
 * Key specs Vouch signs with, and the algorithm for each. P-256 and RSA with SHA-256 only:
 * @sigstore/verify checks DSSE signatures with SHA-256 whatever the key, so a P-384 key (which KMS
 * pairs with SHA-384) would produce signatures nothing could verify.
 */
export const SIGNING_ALGORITHMS: Partial<Record<KeySpec, SigningAlgorithmSpec>> = {
  ECC_NIST_P256: 'ECDSA_SHA_256',
  RSA_2048: 'RSASSA_PKCS1_V1_5_SHA_256',
  RSA_3072: 'RSASSA_PKCS1_V1_5_SHA_256',
  RSA_4096: 'RSASSA_PKCS1_V1_5_SHA_256',
};

export const SUPPORTED_KEY_SPECS = Object.keys(SIGNING_ALGORITHMS) as KeySpec[];

/**
 * A SignFn backed by KMS. `keyId` may be an alias: KMS answers with the ARN of the key that actually
 * signed, which becomes the bundle's key hint, so verification finds that key after the alias moves.
 * Messages are hashed here and sent as DIGEST: a DSSE PAE can exceed KMS's 4 KiB RAW limit, and the
 * payload never needs to leave the machine.
 */
export function kmsSigner(client: KMSClient, keyId: string): SignFn {
  let algorithm: Promise<SigningAlgorithmSpec> | undefined;
  const algorithmFor = async () => {
    const { KeyMetadata } = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
    const spec = KeyMetadata?.KeySpec;
    const chosen = spec ? SIGNING_ALGORITHMS[spec] : undefined;
    if (!chosen) {
      throw new Error(
        `KMS key ${keyId} has key spec ${spec ?? 'unknown'}; Vouch signs with ${SUPPORTED_KEY_SPECS.join(', ')}`,
      );
    }
    if (KeyMetadata?.KeyUsage !== 'SIGN_VERIFY') throw new Error(`KMS key ${keyId} is not a SIGN_VERIFY key`);
    return chosen;
  };
  return async (message) => {
    // A failed lookup is not kept: the next signature asks again (a warm function must not stay broken).
    algorithm ??= algorithmFor().catch((error: unknown) => {
      algorithm = undefined;
      throw error;
    });
    const response = await client.send(
      new SignCommand({
        KeyId: keyId,
        Message: createHash('sha256').update(message).digest(),
        MessageType: 'DIGEST',
        SigningAlgorithm: await algorithm,
      }),
    );
    if (!response.Signature || !response.KeyId)
      throw new Error(`KMS Sign with ${keyId} returned no signature`);
    return { signature: Buffer.from(response.Signature), keyId: response.KeyId };
  };
}

/**
 * Signs through `alias`, or with `fallback` while the alias does not exist yet: the rotating summary
 * keys' alias is created by the rotation function's first run after the deployment that introduced it,
 * and summaries signed in between use the stack's first VSA key (the line's first key too).
 */
export function kmsSignerThrough(client: KMSClient, alias: string, fallback: string): SignFn {
  const preferred = kmsSigner(client, alias);
  const first = kmsSigner(client, fallback);
  return async (message) => {
    try {
      return await preferred(message);
    } catch (error) {
      if ((error as Error).name !== 'NotFoundException') throw error;
      return first(message);
    }
  };
}

export interface KmsPublicKey {
  readonly keyArn: string;
  readonly publicKey: KeyObject;
  readonly keySpec: KeySpec;
}

export async function getPublicKey(client: KMSClient, keyId: string): Promise<KmsPublicKey> {
  const response = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (!response.PublicKey || !response.KeyId || !response.KeySpec) {
    throw new Error(`KMS GetPublicKey for ${keyId} returned no key`);
  }
  return {
    keyArn: response.KeyId,
    publicKey: createPublicKey({ key: Buffer.from(response.PublicKey), format: 'der', type: 'spki' }),
    keySpec: response.KeySpec,
  };
}
