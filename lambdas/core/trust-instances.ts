import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { DEFAULT_INSTANCE, PUBLIC_GOOD_TRUSTED_ROOT } from './trust.ts';

/** A Sigstore instance whose trusted root the refresher keeps current through its TUF repository. */
export interface TrustInstance {
  readonly name: string;
  /** The TUF repository's base URL; targets are under `${mirror}/targets`. */
  readonly mirror: string;
  /**
   * The TUF root.json to start from when nothing was verified yet: shipped with Vouch, never fetched
   * (trust on first use of a repository would trust whoever answered first).
   */
  readonly tufRoot: Buffer;
  /** The trusted root bundled with Vouch: the verifier's first boot and fallback. */
  readonly pinnedTrustedRoot?: string | URL;
}

export const PUBLIC_GOOD_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';
export const GITHUB_MIRROR = 'https://tuf-repo.github.com';

/** Public-good's TUF root as @sigstore/tuf ships it (the npm package, not the network). */
function publicGoodTufRoot(): Buffer {
  const seed = (seeds as Record<string, { 'root.json': string }>)[PUBLIC_GOOD_MIRROR];
  if (!seed) throw new Error(`@sigstore/tuf ships no TUF root for ${PUBLIC_GOOD_MIRROR}`);
  return Buffer.from(seed['root.json'], 'base64');
}

/** How an instance is configured: a name, and for anything but public-good a TUF root file. */
export interface TrustInstanceSpec {
  readonly name: string;
  readonly mirror?: string;
  /** Path to the instance's TUF root.json (relative paths from `baseDir`). Public-good's ships with Vouch. */
  readonly tufRoot?: string;
  /** Path to a trusted_root.json to verify with until the first refresh. */
  readonly trustedRoot?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Resolves configured instances. Public-good needs nothing; GitHub's (`github`) needs its TUF root.json,
 * obtained out of band from GitHub and checked before it is trusted; any other instance needs a mirror
 * too. Fails with a message naming the instance and what is missing.
 */
export function resolveInstances(
  specs: readonly TrustInstanceSpec[],
  baseDir = process.cwd(),
): TrustInstance[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    if (!NAME.test(spec.name))
      throw new Error(`trust instance ${JSON.stringify(spec.name)}: not a valid name`);
    if (seen.has(spec.name)) throw new Error(`trust instance ${spec.name} is configured twice`);
    seen.add(spec.name);
    const read = (path: string) => readFileSync(isAbsolute(path) ? path : resolve(baseDir, path));
    const publicGood = spec.name === DEFAULT_INSTANCE;
    const mirror =
      spec.mirror ?? (publicGood ? PUBLIC_GOOD_MIRROR : spec.name === 'github' ? GITHUB_MIRROR : undefined);
    if (!mirror) throw new Error(`trust instance ${spec.name}: a mirror URL is required`);
    if (!/^https?:\/\//.test(mirror))
      throw new Error(`trust instance ${spec.name}: mirror must be an http(s) URL`);
    const tufRoot = spec.tufRoot ? read(spec.tufRoot) : publicGood ? publicGoodTufRoot() : undefined;
    if (!tufRoot) {
      throw new Error(
        `trust instance ${spec.name}: its TUF root.json is required (tufRoot); Vouch ships only public-good's`,
      );
    }
    const pinned = spec.trustedRoot
      ? resolve(baseDir, spec.trustedRoot)
      : publicGood
        ? PUBLIC_GOOD_TRUSTED_ROOT
        : undefined;
    return {
      name: spec.name,
      mirror: mirror.replace(/\/+$/, ''),
      tufRoot,
      ...(pinned ? { pinnedTrustedRoot: pinned } : {}),
    };
  });
}

/**
 * `VOUCH_TRUST_INSTANCES`: a JSON list of instance specs (default: public-good only), e.g.
 * `[{"name":"public-good"},{"name":"github","tufRoot":"trust/github.root.json"}]`.
 */
export function instanceSpecsFromEnv(env: NodeJS.ProcessEnv = process.env): TrustInstanceSpec[] {
  const raw = env.VOUCH_TRUST_INSTANCES;
  if (raw === undefined || raw.trim() === '') return [{ name: DEFAULT_INSTANCE }];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new Error(`configuration: VOUCH_TRUST_INSTANCES is not JSON (${(error as Error).message})`);
  }
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (item) =>
        typeof item === 'object' &&
        item !== null &&
        typeof item.name === 'string' &&
        ['mirror', 'tufRoot', 'trustedRoot'].every(
          (k) => item[k] === undefined || typeof item[k] === 'string',
        ),
    );
  if (!valid) {
    throw new Error(
      'configuration: VOUCH_TRUST_INSTANCES must be a non-empty JSON list of { name, mirror?, tufRoot?, trustedRoot? }',
    );
  }
  return value as TrustInstanceSpec[];
}
