import { resolve } from 'node:path';
import {
  DEFAULT_INSTANCE,
  loadNamedTrustRoot,
  type NamedTrustRoot,
  notOlder,
  PUBLIC_GOOD_TRUSTED_ROOT,
  rootFromRecord,
  type TrustRecord,
  type TrustRootSet,
  type TrustStore,
} from '#core/index.ts';
import { instanceSpecsFromEnv } from '#core/trust-instances.ts';
import { numberEnv } from './config.ts';

export interface TrustRootsOptions {
  /** How long a read of the store is reused. @default 5 minutes */
  readonly ttlMs?: number;
  readonly now?: () => Date;
}

/** What the verifier holds for one instance, for metrics and `vouch trust show`. */
export interface HeldRoot {
  readonly instance: string;
  readonly source: NamedTrustRoot['source'];
  readonly digest?: string;
  readonly versions?: NamedTrustRoot['tuf'];
  readonly verifiedAt?: string;
  /** When the refresher last confirmed it is the newest version; undefined for pinned roots. */
  readonly checkedAt?: string;
  /** Hours since `checkedAt` (since the verifier started, for pinned roots). */
  readonly ageHours: number;
  /** Why the store's record was not used, when it was not. */
  readonly problem?: string;
}

/**
 * The verifier's roots: for each configured instance, the newest version the trust refresher verified
 * (read from the store, cached for `ttlMs`), else the root pinned in the build. Nothing here reaches a
 * TUF repository; `refresh()` reads only the store, and `get()` is synchronous for the verification path.
 *
 * When the store cannot be read: at the first read that is an infrastructure fault (thrown, so the batch
 * is retried) — the pinned roots may be older than what was verified since, and verifying with them
 * would undo a revocation; later, the roots already held are kept. A record that does not load, or that
 * is older than what is held, is ignored (and reported): a process never goes back.
 */
export class CurrentTrustRoots implements TrustRootSet {
  private readonly held = new Map<string, { root: NamedTrustRoot; record?: TrustRecord }>();
  private readonly problems = new Map<string, string>();
  private loadedAt?: number;
  private readonly started: number;
  private readonly ttlMs: number;
  private readonly now: () => Date;

  private readonly store: TrustStore | undefined;
  /** Each instance and its pinned trusted root (the first boot and fallback), if Vouch has one. */
  private readonly pinned: ReadonlyMap<string, string | URL | undefined>;

  constructor(
    store: TrustStore | undefined,
    pinned: ReadonlyMap<string, string | URL | undefined>,
    options: TrustRootsOptions = {},
  ) {
    this.store = store;
    this.pinned = pinned;
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? (() => new Date());
    this.started = this.now().getTime();
    for (const [instance, location] of pinned) {
      if (location !== undefined)
        this.held.set(instance, { root: loadNamedTrustRoot(instance, location, 'pinned') });
    }
  }

  get(instance: string): NamedTrustRoot | undefined {
    return this.held.get(instance)?.root;
  }

  instances(): readonly string[] {
    return [...this.held.keys()];
  }

  /** The instances this verifier is configured for, whether or not it holds a root for each yet. */
  configured(): readonly string[] {
    return [...this.pinned.keys()];
  }

  /** Re-reads the store once the cached read is older than the TTL (`force`: now); true when it did. */
  async refresh(force = false): Promise<boolean> {
    if (!this.store) return false;
    const now = this.now().getTime();
    if (!force && this.loadedAt !== undefined && now - this.loadedAt < this.ttlMs) return false;
    const store = this.store;
    const reads = await Promise.allSettled(
      [...this.pinned.keys()].map((instance) => store.current(instance)),
    );
    const failed = reads.find((read) => read.status === 'rejected');
    if (failed && this.loadedAt === undefined) throw (failed as PromiseRejectedResult).reason;
    [...this.pinned.keys()].forEach((instance, i) => {
      const read = reads[i] as PromiseSettledResult<TrustRecord | undefined>;
      if (read.status === 'fulfilled' && read.value) this.adopt(instance, read.value);
    });
    this.loadedAt = now;
    return true;
  }

  /** What is held per instance, with its age: published as a metric, shown by `vouch trust show`. */
  status(): HeldRoot[] {
    const now = this.now().getTime();
    return [...this.pinned.keys()].map((instance) => {
      const held = this.held.get(instance);
      const checkedAt = held?.record?.checkedAt;
      const since = checkedAt ? Date.parse(checkedAt) : this.started;
      return {
        instance,
        source: held?.root.source ?? 'pinned',
        ...(held?.root.digest ? { digest: held.root.digest } : {}),
        ...(held?.root.tuf ? { versions: held.root.tuf } : {}),
        ...(held?.root.verifiedAt ? { verifiedAt: held.root.verifiedAt } : {}),
        ...(checkedAt ? { checkedAt } : {}),
        ageHours: Math.max(0, (now - since) / 3_600_000),
        ...(this.problems.has(instance)
          ? { problem: this.problems.get(instance) }
          : held
            ? {}
            : { problem: 'no root: not refreshed yet, and none is pinned' }),
      };
    });
  }

  private adopt(instance: string, record: TrustRecord): void {
    const held = this.held.get(instance);
    this.problems.delete(instance);
    if (held?.record && !notOlder(record.versions, held.record.versions)) {
      this.problems.set(instance, 'the store holds an older version than this verifier: ignored');
      return;
    }
    if (held?.record && held.record.digest === record.digest) {
      // The same root checked again: only its check time moved.
      this.held.set(instance, { root: held.root, record });
      return;
    }
    try {
      if (record.instance !== instance) throw new Error(`the record names instance ${record.instance}`);
      this.held.set(instance, { root: rootFromRecord(record), record });
    } catch (error) {
      this.problems.set(instance, `the stored root does not load: ${(error as Error).message}`);
    }
  }
}

/**
 * The verifier's roots from its environment: the instances of `VOUCH_TRUST_INSTANCES` (default
 * public-good), each with its pinned root (`trustedRoot`; public-good's ships with Vouch, and
 * `VOUCH_TRUSTED_ROOT_PATH` replaces it), refreshed from `VOUCH_TRUST_BUCKET` when set (else pinned only),
 * re-read every `VOUCH_TRUST_CACHE_SECONDS` (300).
 */
export function trustRootsFromEnv(
  env: NodeJS.ProcessEnv,
  store: (bucket: string, prefix: string | undefined) => TrustStore,
  baseDir = env.LAMBDA_TASK_ROOT ?? process.cwd(),
): CurrentTrustRoots {
  const pinned = new Map<string, string | URL | undefined>();
  for (const spec of instanceSpecsFromEnv(env)) {
    const location = spec.trustedRoot
      ? resolve(baseDir, spec.trustedRoot)
      : spec.name === DEFAULT_INSTANCE
        ? (env.VOUCH_TRUSTED_ROOT_PATH ?? PUBLIC_GOOD_TRUSTED_ROOT)
        : undefined;
    pinned.set(spec.name, location);
  }
  const bucket = env.VOUCH_TRUST_BUCKET;
  return new CurrentTrustRoots(bucket ? store(bucket, env.VOUCH_TRUST_PREFIX) : undefined, pinned, {
    ttlMs: numberEnv('VOUCH_TRUST_CACHE_SECONDS', 300, env) * 1000,
  });
}
