import { VouchError } from './errors.ts';
import { isRecord, parseJson } from './json.ts';
import { type NamedTrustRoot, namedTrustRoot, type TufVersions } from './trust.ts';

/**
 * One verified version of an instance's trusted root, as the trust refresher stores it: the
 * `trusted_root.json` it downloaded, and the TUF metadata that vouched for it, so that the next refresh
 * starts from (and refuses to go back behind) exactly what was verified.
 */
export interface TrustRecord {
  readonly instance: string;
  /** The TUF repository it came from. */
  readonly mirror: string;
  /** `trusted_root.json` as downloaded (its SHA-256 matched the targets metadata). */
  readonly trustedRoot: string;
  /** `sha256:<hex>` of `trustedRoot`'s bytes. */
  readonly digest: string;
  /** root.json, timestamp.json, snapshot.json and targets.json as verified. */
  readonly metadata: Readonly<Record<TufRole, string>>;
  readonly versions: TufVersions;
  /** When this version was first verified. */
  readonly verifiedAt: string;
  /** When a refresh last verified, against the repository, that this is still the newest version. */
  readonly checkedAt: string;
}

export const TUF_ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
export type TufRole = (typeof TUF_ROLES)[number];

/** Where the refresher keeps verified roots and the verifier reads them: S3, a folder, memory in tests. */
export interface TrustStore {
  /** The newest verified version of an instance's root; undefined before its first refresh. */
  current(instance: string): Promise<TrustRecord | undefined>;
  /**
   * Records a refresh. A new version is kept (never overwritten) and becomes current; the same version
   * only moves `checkedAt`. `previous` is the current record the refresh started from: if another writer
   * moved it since, the write fails rather than overwrite a newer root with an older one.
   */
  save(record: TrustRecord, previous: TrustRecord | undefined): Promise<void>;
  /** Every version kept for an instance, oldest first, as `root-R/timestamp-T` labels. */
  history(instance: string): Promise<string[]>;
}

/** The label (and storage name) of a version: the TUF root and timestamp versions it was verified under. */
export const versionLabel = (versions: TufVersions) =>
  `root-${String(versions.root).padStart(6, '0')}/timestamp-${String(versions.timestamp).padStart(10, '0')}`;

/**
 * Whether `next` is at least as new as `previous` in every TUF role. TUF's client refuses a version
 * behind what it trusts; this is the same rule, applied again where records are written and read.
 */
export function notOlder(next: TufVersions, previous: TufVersions): boolean {
  return (
    next.root >= previous.root &&
    next.timestamp >= previous.timestamp &&
    next.snapshot >= previous.snapshot &&
    next.targets >= previous.targets
  );
}

export const sameVersions = (a: TufVersions, b: TufVersions) =>
  a.root === b.root && a.timestamp === b.timestamp && a.snapshot === b.snapshot && a.targets === b.targets;

/** Parses a stored record, checking its shape; the root inside is parsed by `rootFromRecord`. */
export function parseTrustRecord(text: string, what: string): TrustRecord {
  const value = parseJson(text, 16, what);
  const strings = ['instance', 'mirror', 'trustedRoot', 'digest', 'verifiedAt', 'checkedAt'] as const;
  if (!isRecord(value) || strings.some((field) => typeof value[field] !== 'string')) {
    throw new VouchError('PARSE_ERROR', `${what}: not a trust record`);
  }
  const { metadata, versions } = value;
  if (!isRecord(metadata) || TUF_ROLES.some((role) => typeof metadata[role] !== 'string')) {
    throw new VouchError('PARSE_ERROR', `${what}: its TUF metadata is incomplete`);
  }
  if (!isRecord(versions) || TUF_ROLES.some((role) => !Number.isSafeInteger(versions[role]))) {
    throw new VouchError('PARSE_ERROR', `${what}: its TUF versions are incomplete`);
  }
  return value as unknown as TrustRecord;
}

/** The verifier's view of a record: the parsed root, named by instance, with its versions and times. */
export function rootFromRecord(record: TrustRecord): NamedTrustRoot {
  const named = namedTrustRoot(
    Buffer.from(record.trustedRoot, 'utf8'),
    { instance: record.instance, source: 'tuf', tuf: record.versions, verifiedAt: record.verifiedAt },
    `trusted root of ${record.instance} (${versionLabel(record.versions)})`,
  );
  if (named.digest !== record.digest) {
    throw new VouchError(
      'PARSE_ERROR',
      `trusted root of ${record.instance}: its digest is ${named.digest}, the record says ${record.digest}`,
    );
  }
  return named;
}
