import { createHash } from 'node:crypto';
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

/**
 * The Sigstore public-good root, pinned in the repository: the verifier's first boot and fallback until
 * the trust refresher has verified a newer one through TUF. Verification never fetches anything.
 */
export const PUBLIC_GOOD_TRUSTED_ROOT = new URL('./trust/public-good.trusted_root.json', import.meta.url);

/** The Sigstore instance a keyless signer trusts unless it names others. */
export const DEFAULT_INSTANCE = 'public-good';

/** Which root verified a signature: recorded with it in the decision. */
export interface TrustRootRef {
  /** The Sigstore instance: `public-good`, `github`, or any name the deployment configures. */
  readonly instance: string;
  /**
   * `pinned`: bundled with Vouch; `tuf`: verified through the instance's TUF repository by the trust
   * refresher; `file`: given by path (`vouch verify --trusted-root`); `given`: handed in as material.
   */
  readonly source: 'pinned' | 'tuf' | 'file' | 'given';
  /** `sha256:<hex>` of the `trusted_root.json` bytes. */
  readonly digest?: string;
  /** The TUF metadata versions it was verified under (source `tuf`). */
  readonly tuf?: TufVersions;
  /** When the refresher last verified it against the instance's TUF repository (source `tuf`). */
  readonly verifiedAt?: string;
}

export interface TufVersions {
  readonly root: number;
  readonly timestamp: number;
  readonly snapshot: number;
  readonly targets: number;
}

export interface NamedTrustRoot extends TrustRootRef {
  readonly root: TrustRoot;
}

/** The roots a verifier holds, one per instance; read synchronously on the verification path. */
export interface TrustRootSet {
  get(instance: string): NamedTrustRoot | undefined;
  instances(): readonly string[];
}

export function trustRootSet(roots: readonly NamedTrustRoot[]): TrustRootSet {
  const byInstance = new Map(roots.map((root) => [root.instance, root]));
  return { get: (instance) => byInstance.get(instance), instances: () => [...byInstance.keys()] };
}

/** A bare root (tests, callers with one root) is the default instance's. */
export function asTrustRootSet(roots: TrustRoot | TrustRootSet): TrustRootSet {
  if ('get' in roots && typeof roots.get === 'function') return roots;
  return trustRootSet([{ instance: DEFAULT_INSTANCE, source: 'given', root: roots as TrustRoot }]);
}

/** What a decision records of a root: what identifies it, without its parsed material. */
export const trustRootRef = ({ root: _material, ...ref }: NamedTrustRoot): TrustRootRef => ref;

const cache = new Map<string, NamedTrustRoot>();

export function loadTrustRoot(location: string | URL = PUBLIC_GOOD_TRUSTED_ROOT): TrustRoot {
  return loadNamedTrustRoot(DEFAULT_INSTANCE, location).root;
}

/**
 * Reads a `trusted_root.json` as the root of `instance`: `pinned` (the bundled file, or what the
 * deployment pins) or `file` (given by path). Cached by instance, location and source.
 */
export function loadNamedTrustRoot(
  instance: string,
  location: string | URL = PUBLIC_GOOD_TRUSTED_ROOT,
  source?: 'pinned' | 'file',
): NamedTrustRoot {
  const where = location.toString();
  const cacheKey = `${instance}\n${where}\n${source ?? ''}`;
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  let bytes: Buffer;
  try {
    bytes = readFileSync(location);
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `trusted root ${where}: cannot read (${(error as Error).message})`);
  }
  const pinned = where === PUBLIC_GOOD_TRUSTED_ROOT.toString();
  const named = namedTrustRoot(bytes, { instance, source: source ?? (pinned ? 'pinned' : 'file') }, where);
  cache.set(cacheKey, named);
  return named;
}

/** Parses the bytes of a `trusted_root.json` into a named root, with the digest of those bytes. */
export function namedTrustRoot(
  bytes: Buffer,
  ref: Omit<TrustRootRef, 'digest'>,
  what = `trusted root of ${ref.instance}`,
): NamedTrustRoot {
  const root = trustRootFromJson(parseJson(bytes.toString('utf8'), 64, what), what);
  return { ...ref, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, root };
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
    for (const authority of root.certificateAuthorities) {
      for (const cert of authority.certChain) keepDer(cert);
      keepChainVerdicts(authority.certChain);
    }
    return root;
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${what}: invalid (${(error as Error).message})`, { cause: error });
  }
}

/**
 * A certificate's DER, encoded once. @sigstore/verify compares certificates by re-encoding both to DER
 * every time (X509Certificate.equals), and checks a chain by re-encoding each TBS part: for the root's own
 * certificates and a bundle's leaf, that was a third of every keyless verification. Only for objects
 * nothing changes once parsed: the root's certificates, and the leaf @sigstore/verify parsed for one
 * verification (its SCT check edits a clone, made from these bytes, never the leaf). The buffers handed
 * out are copies, so no caller can alter the kept ones.
 */
export function keepDer(cert: { root: Asn1Encodable; tbsCertificate: Asn1Encodable }): void {
  // The whole certificate (compared), its TBS part (checked against its issuer) and its key (read as an
  // issuer's: a private field of the library's, kept only while it is there).
  const key = (cert as { subjectPublicKeyInfoObj?: Asn1Encodable }).subjectPublicKeyInfoObj;
  for (const node of [cert.root, cert.tbsCertificate, ...(key ? [key] : [])]) {
    if (Object.hasOwn(node, 'toDER')) continue;
    const der = node.toDER();
    Object.defineProperty(node, 'toDER', { value: () => Buffer.from(der), enumerable: false });
  }
}

interface Asn1Encodable {
  toDER(): Buffer;
}

interface ChainCertificate {
  verify(issuer?: ChainCertificate): boolean;
}

/**
 * An authority's own chain checked once: whether one of its certificates is signed by itself or by
 * another of the same chain is a fact of the two certificates' bytes, fixed when the root is parsed, yet
 * @sigstore/verify checks it (a P-384 signature, twice) for every keyless bundle. Only these pairs are
 * remembered, on the certificates themselves, so the verdicts live and die with the parsed root: a new
 * root is parsed into new objects with nothing remembered. A bundle's certificates, and any issuer not in
 * the chain, are checked as ever; validity dates are never remembered (checked at each signing time).
 */
function keepChainVerdicts(chain: readonly ChainCertificate[]): void {
  for (const cert of chain) {
    const check = cert.verify.bind(cert);
    const verdicts = new Map<ChainCertificate | undefined, boolean>();
    const remembered = (issuer?: ChainCertificate) => {
      if (issuer !== undefined && !chain.includes(issuer)) return check(issuer);
      let verdict = verdicts.get(issuer);
      if (verdict === undefined) {
        verdict = check(issuer);
        verdicts.set(issuer, verdict);
      }
      return verdict;
    };
    Object.defineProperty(cert, 'verify', { value: remembered, enumerable: false });
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
