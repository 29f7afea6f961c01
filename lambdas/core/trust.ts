import { readFileSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TrustMaterial, toTrustMaterial } from '@sigstore/verify';
import { VouchError } from './errors.ts';
import { isRecord, parseJson } from './json.ts';

/**
 * Certificate authorities, transparency logs and timestamp authorities for keyless verification. Built
 * once per trusted root and reused: parsing the root's certificates costs far more than a verification.
 */
export type TrustRoot = Omit<TrustMaterial, 'publicKey'>;

/** The Sigstore public-good root, pinned in the repository: verification never fetches it (no TUF). */
export const PUBLIC_GOOD_TRUSTED_ROOT = new URL('./trust/public-good.trusted_root.json', import.meta.url);

const cache = new Map<string, TrustRoot>();

export function loadTrustRoot(location: string | URL = PUBLIC_GOOD_TRUSTED_ROOT): TrustRoot {
  const cacheKey = location.toString();
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(location, 'utf8');
  } catch (error) {
    throw new VouchError(
      'PARSE_ERROR',
      `trusted root ${cacheKey}: cannot read (${(error as Error).message})`,
    );
  }
  const root = trustRootFromJson(parseJson(text, 64, `trusted root ${cacheKey}`), cacheKey);
  cache.set(cacheKey, root);
  return root;
}

export function trustRootFromJson(json: unknown, what = 'trusted root'): TrustRoot {
  if (!isRecord(json) || typeof json.mediaType !== 'string' || !json.mediaType.includes('trustedroot')) {
    throw new VouchError(
      'PARSE_ERROR',
      `${what}: not a Sigstore trusted_root.json (no trustedroot mediaType)`,
    );
  }
  try {
    const { publicKey: _unused, ...root } = toTrustMaterial(TrustedRoot.fromJSON(json));
    return root;
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${what}: invalid (${(error as Error).message})`, { cause: error });
  }
}

/** For keyed-only verification: no authority is trusted, so no certificate or log can vouch for anything. */
export const EMPTY_TRUST_ROOT: TrustRoot = {
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
};
