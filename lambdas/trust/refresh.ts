import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Fetcher, Updater } from 'tuf-js';
import {
  notOlder,
  rootFromRecord,
  sameVersions,
  type TrustRecord,
  type TrustStore,
  TUF_ROLES,
  type TufRole,
  type TufVersions,
  versionLabel,
} from '#core/index.ts';
import type { TrustInstance } from '#core/trust-instances.ts';

export const TRUSTED_ROOT_TARGET = 'trusted_root.json';

export interface RefreshOptions {
  readonly now?: () => Date;
  /** For tests and the CLI: how tuf-js fetches (default: global fetch, two retries). */
  readonly fetcher?: Fetcher;
  /** Per-request timeout. @default 20 s */
  readonly timeoutMs?: number;
}

export type RefreshOutcome =
  /** A new version was verified and stored (the first, or one with newer TUF metadata). */
  | {
      readonly instance: string;
      readonly outcome: 'updated';
      readonly record: TrustRecord;
      readonly previous?: TufVersions;
    }
  /** The repository has nothing newer: the stored version was checked again (`checkedAt` moved). */
  | { readonly instance: string; readonly outcome: 'unchanged'; readonly record: TrustRecord };

/**
 * Refreshes one instance's trusted root through its TUF repository (tuf-js, TUF client workflow): from
 * the newest TUF metadata verified before (else the TUF root shipped with Vouch), it follows root
 * rotations, then verifies timestamp, snapshot and targets — signatures by the keys the root names,
 * expiry, and versions never behind what was verified before — and downloads `trusted_root.json`,
 * checked against the hash the targets metadata signs. The root must then load as Vouch loads roots.
 * Only then is it stored, with the metadata that vouched for it. Anything else throws and stores nothing:
 * the verifier keeps the last verified root.
 */
export async function refreshInstance(
  instance: TrustInstance,
  store: TrustStore,
  options: RefreshOptions = {},
): Promise<RefreshOutcome> {
  const now = options.now ?? (() => new Date());
  const previous = await store.current(instance.name);
  if (previous && previous.mirror !== instance.mirror) {
    // Metadata of one repository says nothing about another's versions: refuse rather than mix them.
    throw new Error(
      `${instance.name}: the stored root came from ${previous.mirror}, not ${instance.mirror}; move it aside to change mirrors`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), `vouch-tuf-${instance.name}-`));
  try {
    writeFileSync(join(dir, 'root.json'), startingRoot(instance, previous));
    // The metadata verified last time: tuf-js refuses anything older (rollback protection across runs).
    if (previous) {
      for (const role of ['timestamp', 'snapshot', 'targets'] as const)
        writeFileSync(join(dir, `${role}.json`), previous.metadata[role]);
    }
    mkdirSync(join(dir, 'targets'));
    const updater = new Updater({
      metadataDir: dir,
      metadataBaseUrl: instance.mirror,
      targetDir: join(dir, 'targets'),
      targetBaseUrl: `${instance.mirror}/targets`,
      ...(options.fetcher ? { fetcher: options.fetcher } : {}),
      config: { fetchTimeout: options.timeoutMs ?? 20_000, userAgent: 'vouch-trust-refresher' },
    });
    await updater.refresh();
    const target = await updater.getTargetInfo(TRUSTED_ROOT_TARGET);
    if (!target) throw new Error(`${instance.name}: the repository's targets list no ${TRUSTED_ROOT_TARGET}`);
    const path = await updater.downloadTarget(target, join(dir, 'targets', TRUSTED_ROOT_TARGET));
    const trustedRoot = readFileSync(path);
    const metadata = Object.fromEntries(
      TUF_ROLES.map((role) => [role, readFileSync(join(dir, `${role}.json`), 'utf8')]),
    ) as Record<TufRole, string>;
    const versions = versionsOf(metadata);
    const at = now().toISOString();
    const record: TrustRecord = {
      instance: instance.name,
      mirror: instance.mirror,
      trustedRoot: trustedRoot.toString('utf8'),
      digest: `sha256:${createHash('sha256').update(trustedRoot).digest('hex')}`,
      metadata,
      versions,
      verifiedAt: at,
      checkedAt: at,
    };
    // Refused here as the verifier would refuse it (e.g. an authority without a validity start).
    rootFromRecord(record);
    if (previous && !notOlder(versions, previous.versions)) {
      throw new Error(
        `${instance.name}: ${versionLabel(versions)} is older than the stored ${versionLabel(previous.versions)}`,
      );
    }
    if (previous && sameVersions(versions, previous.versions) && record.digest === previous.digest) {
      const checked = { ...previous, checkedAt: at };
      await store.save(checked, previous);
      return { instance: instance.name, outcome: 'unchanged', record: checked };
    }
    await store.save(record, previous);
    return {
      instance: instance.name,
      outcome: 'updated',
      record,
      ...(previous ? { previous: previous.versions } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The newest trusted TUF root: the one verified last time, unless Vouch now ships a newer one. */
function startingRoot(instance: TrustInstance, previous: TrustRecord | undefined): Buffer {
  if (!previous) return instance.tufRoot;
  const stored = Buffer.from(previous.metadata.root, 'utf8');
  return versionOf(instance.tufRoot) > versionOf(stored) ? instance.tufRoot : stored;
}

const versionOf = (metadata: Buffer | string): number => {
  const version = JSON.parse(metadata.toString()).signed?.version;
  if (!Number.isSafeInteger(version)) throw new Error('TUF metadata without a version');
  return version;
};

const versionsOf = (metadata: Record<TufRole, string>): TufVersions => ({
  root: versionOf(metadata.root),
  timestamp: versionOf(metadata.timestamp),
  snapshot: versionOf(metadata.snapshot),
  targets: versionOf(metadata.targets),
});

export interface RefreshReport {
  readonly instance: string;
  readonly outcome: 'updated' | 'unchanged' | 'failed';
  readonly versions?: { root: number; timestamp: number; snapshot: number; targets: number };
  readonly error?: string;
  /** Hours since the stored root was last confirmed current (after this run). */
  readonly ageHours?: number;
}

/**
 * Refreshes every configured instance, each on its own: one repository down or refused does not keep
 * the others from refreshing. Publishes, per instance, `TrustRootRefreshFailed` and `TrustRootAgeHours`
 * (hours since the stored root was last confirmed current), which the stack alarms on; throws at the end
 * if any instance failed, so the function's errors say so too.
 */
export async function refreshAll(
  instances: readonly TrustInstance[],
  store: TrustStore,
  options: RefreshOptions = {},
): Promise<RefreshReport[]> {
  const now = options.now ?? (() => new Date());
  const reports: RefreshReport[] = [];
  for (const instance of instances) {
    try {
      const result = await refreshInstance(instance, store, options);
      reports.push({
        instance: instance.name,
        outcome: result.outcome,
        versions: result.record.versions,
        ageHours: 0,
      });
    } catch (error) {
      const stored = await store.current(instance.name).catch(() => undefined);
      const ageHours = stored ? (now().getTime() - Date.parse(stored.checkedAt)) / 3_600_000 : undefined;
      reports.push({
        instance: instance.name,
        outcome: 'failed',
        error: (error as Error).message,
        ...(stored ? { versions: stored.versions } : {}),
        ...(ageHours === undefined ? {} : { ageHours }),
      });
    }
  }
  return reports;
}
