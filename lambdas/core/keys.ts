import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { VouchError } from './errors.ts';

/** Key lifecycle, as the key registry records it. Only `active` keys sign; every status can still verify. */
export type KeyStatus = 'active' | 'retiring' | 'retired' | 'revoked';

/** What a registry key signs: artifact attestations, or the verification summaries promotions carry. */
export type KeyPurpose = 'signing' | 'vsa';

/** A public key trusted for verification, with the window in which its signatures are accepted. */
export interface TrustedKey {
  /** Canonical ID: the KMS key ARN for registry keys, `sha256:<spki hex>` for a PEM key. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  /** `registry` for keys from the Vouch key registry, which a policy trusts with `{ registry: true }`. */
  readonly origin?: 'registry';
  /**
   * The alias the key signs through (a registry key's rotation line). Keys of one alias are one signer:
   * signing before and after a rotation must not meet a threshold of two.
   */
  readonly alias?: string;
  /** The pipeline a registry key belongs to: `{ registry: true }` counts it only inside that pipeline's scope. */
  readonly pipeline?: string;
  /**
   * What a registry key signs: artifact attestations (`signing`, the default) or verification summaries
   * (`vsa`). A summary key never counts as an artifact signer, nor an artifact key as a summary signer.
   */
  readonly purpose?: KeyPurpose;
  readonly status?: KeyStatus;
  /** Signatures whose trusted signing time is before this are rejected. */
  readonly validFrom?: Date;
  /** Signatures whose trusted signing time is after this are rejected (rotation end + grace). */
  readonly validUntil?: Date;
  /** Revocation effective time: signatures at or after it are rejected. */
  readonly revokedAt?: Date;
  readonly revocationReason?: string;
}

/**
 * Finds the key for a signature's key hint (DSSE keyid, bundle public-key hint). Synchronous, like
 * @sigstore/verify's key finder: asynchronous sources (the registry) are loaded before verification.
 */
export type KeyLookup = (hint: string) => TrustedKey | undefined;

/**
 * The canonical ID of a public key: the SHA-256 of its SPKI DER, with EC points re-encoded uncompressed.
 * The same key written with a compressed point has another DER spelling; it must not become a second
 * signer toward a threshold.
 */
export function keyIdOf(publicKey: KeyObject): string {
  const canonical =
    publicKey.asymmetricKeyType === 'ec'
      ? createPublicKey({ key: publicKey.export({ format: 'jwk' }), format: 'jwk' })
      : publicKey;
  const spki = canonical.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** Longest key hint looked up anywhere: KMS key ARNs are under 100 characters, `sha256:` IDs 71. */
export const MAX_KEY_HINT_LENGTH = 256;
const PRINTABLE_HINT = /^[\x21-\x7e]+$/;
/** A KMS key ARN, the only shape the key registry stores: nothing else is worth a registry lookup. */
const KMS_KEY_ARN = /^arn:aws[a-z-]{0,16}:kms:[a-z0-9-]{1,32}:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;

/**
 * Why a key hint cannot name a key, or undefined when it can. A hint is whatever the uploader wrote
 * (DSSE `keyid` is unauthenticated): it is checked before it reaches a lookup, a log line or a database key.
 */
export function keyHintProblem(hint: string): string | undefined {
  if (hint === '') return 'the signature names no key (empty key hint)';
  if (hint.length > MAX_KEY_HINT_LENGTH)
    return `the key hint is ${hint.length} characters long (at most ${MAX_KEY_HINT_LENGTH})`;
  if (!PRINTABLE_HINT.test(hint)) return 'the key hint contains spaces, control or non-ASCII characters';
  return undefined;
}

export const isRegistryKeyId = (hint: string) => KMS_KEY_ARN.test(hint);

/** A hint shortened for messages: never echo kilobytes of attacker input into a record. */
export const showHint = (hint: string) => JSON.stringify(hint.length > 80 ? `${hint.slice(0, 80)}…` : hint);

export function publicKeyFromPem(pem: string | Buffer, what = 'public key'): KeyObject {
  // Node derives the public key from a private one; a verifier refuses to be handed a private key at all.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(typeof pem === 'string' ? pem : pem.toString('latin1')))
    throw new VouchError(
      'PARSE_ERROR',
      `${what}: a private key; give its public key (a verifier never needs the private one)`,
    );
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error(`expected a public key, found a ${key.type} key`);
    return key;
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${what}: not a PEM public key (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/**
 * Lookup over a fixed set of keys, by canonical ID. When exactly one key is given it is used whatever the
 * hint says, as `cosign verify --key` does: the signature must still verify with that key, so a wrong or
 * empty hint cannot widen trust.
 */
export function staticKeyLookup(keys: readonly TrustedKey[]): KeyLookup {
  const byId = new Map(keys.map((key) => [key.keyId, key]));
  const only = keys.length === 1 ? keys[0] : undefined;
  return (hint) => byId.get(hint) ?? only;
}

export type KeyValidity =
  | { readonly valid: true }
  | {
      readonly valid: false;
      readonly code: 'KEY_REVOKED' | 'KEY_NOT_VALID_AT_TIME';
      readonly message: string;
    };

/** Was the key allowed to sign at `time`? Checked at the trusted signing time, never at "now". */
export function keyValidAt(key: TrustedKey, time: Date): KeyValidity {
  const at = time.toISOString();
  if (key.revokedAt !== undefined && time.getTime() >= key.revokedAt.getTime()) {
    const reason = key.revocationReason ? ` (${key.revocationReason})` : '';
    return {
      valid: false,
      code: 'KEY_REVOKED',
      message: `key ${key.keyId} was revoked effective ${key.revokedAt.toISOString()}${reason}; signed at ${at}`,
    };
  }
  if (key.validFrom !== undefined && time.getTime() < key.validFrom.getTime()) {
    return {
      valid: false,
      code: 'KEY_NOT_VALID_AT_TIME',
      message: `key ${key.keyId} is valid from ${key.validFrom.toISOString()}; signed at ${at}`,
    };
  }
  if (key.validUntil !== undefined && time.getTime() > key.validUntil.getTime()) {
    return {
      valid: false,
      code: 'KEY_NOT_VALID_AT_TIME',
      message: `key ${key.keyId} was valid until ${key.validUntil.toISOString()}; signed at ${at}`,
    };
  }
  return { valid: true };
}
