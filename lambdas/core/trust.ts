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
  const unbounded = authoritiesWithoutStart(json);
  if (unbounded.length > 0) {
    // @sigstore/verify reads a missing start as the beginning of time: a key trusted for every past moment,
    // which the root never said. The start is required (sigstore-conformance rejects such a root).
    throw new VouchError(
      'PARSE_ERROR',
      `${what}: ${unbounded.join(', ')} ${unbounded.length === 1 ? 'has' : 'have'} no validFor.start; every authority's validity window must say when it begins`,
    );
  }
  try {
    const { publicKey: _unused, ...root } = toTrustMaterial(TrustedRoot.fromJSON(json));
    return root;
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${what}: invalid (${(error as Error).message})`, { cause: error });
  }
}

/** The JSON paths of authorities whose validity window is missing or has no start. */
function authoritiesWithoutStart(json: Record<string, unknown>): string[] {
  const missing: string[] = [];
  const check = (list: string, windowOf: (entry: Record<string, unknown>) => unknown) => {
    const entries = json[list];
    if (!Array.isArray(entries)) return;
    entries.forEach((entry, index) => {
      const window = isRecord(entry) ? windowOf(entry) : undefined;
      const start = isRecord(window) ? window.start : undefined;
      if (typeof start !== 'string' || start === '') missing.push(`${list}[${index}]`);
    });
  };
  const keyWindow = (entry: Record<string, unknown>) =>
    isRecord(entry.publicKey) ? entry.publicKey.validFor : undefined;
  check('certificateAuthorities', (entry) => entry.validFor);
  check('timestampAuthorities', (entry) => entry.validFor);
  check('tlogs', keyWindow);
  check('ctlogs', keyWindow);
  return missing;
}

/** For keyed-only verification: no authority is trusted, so no certificate or log can vouch for anything. */
export const EMPTY_TRUST_ROOT: TrustRoot = {
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
};
