import { randomUUID } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { KeyRecord, KeyRegistry } from '#adapters/key-registry.ts';
import { getPublicKey } from '#adapters/kms.ts';
import { planRotation, type RotationConfig } from '#core/rotation.ts';
import { policyDigest, type SigningKeyPolicyConfig, signingKeyPolicy } from './key-policy.ts';
import {
  aliasTarget,
  createKey,
  creationTime,
  disableKey,
  findOrphan,
  type KeyPolicyOption,
  keyWithOtherPolicy,
  pointAlias,
  retireInKms,
  scheduleDeletion,
} from './kms-keys.ts';
import { type Attempt, isRefusal, once, type RetryOptions, retrier } from './retry.ts';

export { type KeyPolicyOption, POLICY_TAG, SIGNING_TAG, tagValue } from './kms-keys.ts';

export function keyPolicyOption(config: SigningKeyPolicyConfig, bypassLockoutCheck = false): KeyPolicyOption {
  const document = JSON.stringify(signingKeyPolicy(config));
  return { document, digest: policyDigest(document), ...(bypassLockoutCheck ? { bypassLockoutCheck } : {}) };
}

export interface RotationDeps {
  readonly kms: KMSClient;
  readonly registry: KeyRegistry;
  readonly now?: () => Date;
  /** How long a run may hold the rotation lease before another may take over. */
  readonly leaseMs?: number;
  /**
   * The key policy of new keys. Without one KMS attaches its default policy (the account root with
   * kms:*), which only the local stack may rely on.
   */
  readonly keyPolicy?: KeyPolicyOption;
  /**
   * Retry transient failures (permissions and keys not visible yet, throttling) within a time budget.
   * Without it every step runs once.
   */
  readonly retry?: RetryOptions;
  /** Recorded with each key created: the rotation function's role, and who asked when an admin did. */
  readonly createdBy?: string;
}

export interface RotationOptions {
  /** Rotate now, whatever the period; also resumes a suspended line. */
  readonly force?: boolean;
  /**
   * A key made outside the rotation function (the stack's first summary key, a CloudFormation
   * resource) that becomes the line's first key if the line has none: registered, never disabled or
   * deleted by a rotation, and current for the period it joined in.
   */
  readonly adopt?: string;
}

export interface RotationResult {
  /** The key that became active in this run, if any. */
  readonly activated?: string;
  /**
   * Why it was created: a new period, by hand, because the active key's policy is not the configured
   * one, or to finish the work of a run that crashed.
   */
  readonly reason?: 'period' | 'forced' | 'policy' | 'resumed';
  /** Why no key was activated. */
  readonly skipped?: 'up-to-date' | 'lease-held' | 'lease-lost' | 'suspended';
  /** The key adopted into the line by this run. */
  readonly adopted?: string;
  readonly retired: readonly string[];
  readonly disabled: readonly string[];
  readonly deletionScheduled: readonly string[];
}

/** The lease of a rotation forced by hand (`vouch keys rotate --force`): one per instant. */
export const forcedLeaseId = (now: Date) => `forced:${now.toISOString()}`;

/**
 * The lease of a rotation that replaces a key whose policy is not the configured one: one per pair of
 * (policy, key replaced), so concurrent runs create one key, and a later change creates another.
 */
export const policyLeaseId = (digest: string, keyId: string) =>
  `policy:${digest}@${keyId.slice(keyId.lastIndexOf('/') + 1)}`;

/**
 * Every value the rotation code writes into the `vouch:period` and `vouch:policy` tags, as IAM
 * `StringLike` patterns (`?` is one character): the rotation role may create keys with these values only.
 */
const ISO_TIME = '????-??-??T??:??:??.???Z';
export const PERIOD_TAG_PATTERNS = [
  ISO_TIME,
  `forced:${ISO_TIME}`,
  `policy:${'?'.repeat(32)}@????????-????-????-????-????????????`,
] as const;
export const POLICY_TAG_PATTERN = '?'.repeat(32);

const DAY_MS = 86_400_000;

/**
 * One rotation run. Safe to run twice at once or again after a crash: one lease per alias lets one run
 * at a time change the alias's keys; a run that takes over a lapsed lease first finishes the work it
 * recorded (registers the key, retires older ones, moves the alias); a run with nothing to create still
 * repairs what a crash left (two active keys, the alias on an older key). Each registry change is a
 * conditional write and each KMS step tolerates having been done already. Key validity comes from KMS's
 * own clock (the key's creation date), never the caller's. `force` rotates now, whatever the period.
 */
export async function rotate(
  deps: RotationDeps,
  config: RotationConfig,
  options: RotationOptions = {},
): Promise<RotationResult> {
  const now = (deps.now ?? (() => new Date()))();
  const owner = randomUUID();
  const { registry, kms } = deps;
  const attempt: Attempt = deps.retry ? retrier(deps.retry) : once;
  // The first request of a run made right after a deployment meets its role's policy not yet propagated.
  let keys = await attempt(() => registry.list());
  let adopted: string | undefined;
  if (options.adopt && !keys.some((key) => key.alias === config.alias)) {
    if (await adopt(options.adopt)) adopted = options.adopt;
    keys = await registry.list();
  }
  const plan = planRotation(keys, now, config);
  const retired: string[] = [];
  let activated: string | undefined;
  let reason: RotationResult['reason'];
  let skipped: RotationResult['skipped'];

  const lease = await registry.acquireRotationLease(config.alias, owner, now, deps.leaseMs ?? 5 * 60_000);
  if (!lease) {
    skipped = 'lease-held';
  } else {
    let purpose: string | undefined;
    const suspended = lease.suspendedAt !== undefined;
    if (lease.state === 'creating' && lease.purpose) {
      [purpose, reason] = [lease.purpose, 'resumed'];
    } else if (options.force) {
      // An admin's forced rotation is what lifts a suspension (a revoked pipeline gets keys again).
      if (suspended) await registry.resume(config.alias, owner);
      [purpose, reason] = [forcedLeaseId(now), 'forced'];
    } else if (suspended) {
      // A revoked pipeline gets no new key by schedule: whoever revoked it decides when it signs again.
    } else if (plan.createFor) {
      [purpose, reason] = [plan.createFor, 'period'];
    } else if (deps.keyPolicy) {
      const digest = deps.keyPolicy.digest;
      const stale = await attempt(() => keyWithOtherPolicy(kms, keys, config.alias, digest));
      if (stale) [purpose, reason] = [policyLeaseId(digest, stale), 'policy'];
    }
    if (purpose === undefined) {
      // Nothing to create: finish what a crash may have left, and give the lease back.
      retired.push(...(await settle(plan.newest, plan.retire)));
      await registry.completeLease(config.alias, owner);
      skipped = suspended && !options.force ? 'suspended' : 'up-to-date';
    } else {
      if (lease.state !== 'creating' && !(await registry.beginLeaseWork(config.alias, owner, purpose))) {
        skipped = 'lease-lost';
      } else {
        const created = await keyFor(purpose, lease.state === 'creating', lease.keyId);
        if (created === undefined) {
          skipped = 'lease-lost';
        } else {
          await registerKey(created, purpose);
          const older = (await registry.list())
            .filter((k) => k.alias === config.alias && k.status === 'active' && k.keyId !== created.keyId)
            .filter((k) => k.validFrom <= created.validFrom)
            .map((k) => k.keyId);
          retired.push(...(await settle(created.keyId, older, created.validFrom)));
          await registry.completeLease(config.alias, owner);
          activated = created.keyId;
        }
      }
    }
  }

  const disabled: string[] = [];
  const revokedNow = new Set(keys.filter((k) => k.status === 'revoked').map((k) => k.keyId));
  const external = new Set(keys.filter((k) => k.external).map((k) => k.keyId));
  for (const keyId of plan.disable) {
    // A CloudFormation key stays enabled in KMS (the stack owns it); the registry alone retires it.
    if (!external.has(keyId)) await attempt(() => disableKey(kms, keyId));
    const recorded = revokedNow.has(keyId)
      ? await registry.markDisabled(keyId, now.toISOString())
      : await registry.markRetired(keyId, now.toISOString());
    if (recorded) disabled.push(keyId);
  }
  const deletionScheduled: string[] = [];
  for (const keyId of plan.scheduleDeletion) {
    await attempt(() => scheduleDeletion(kms, keyId, config.deletionWindowDays));
    if (await registry.markDeletionScheduled(keyId, now.toISOString())) deletionScheduled.push(keyId);
  }
  return {
    ...(activated ? { activated, reason } : {}),
    ...(skipped ? { skipped } : {}),
    ...(adopted ? { adopted } : {}),
    retired,
    disabled,
    deletionScheduled,
  };

  /**
   * The key the lease's work is about: the one its previous holder recorded, an orphan it created and
   * crashed before recording (adopted), or a new one. Undefined when the lease was lost meanwhile.
   */
  async function keyFor(
    purpose: string,
    resumed: boolean,
    recordedKey: string | undefined,
  ): Promise<{ keyId: string; validFrom: string } | undefined> {
    const recorded = resumed ? recordedKey : undefined;
    // Only a run that crashed between CreateKey and recording the key leaves an orphan to look for.
    const known = new Set(keys.map((key) => key.keyId));
    let keyId =
      recorded ?? (resumed ? await attempt(() => findOrphan(kms, config, purpose, known)) : undefined);
    // Not idempotent: retried only after a refusal, never after a timeout that may have created a key.
    keyId ??= await attempt(() => createKey(kms, config, purpose, deps.keyPolicy), isRefusal);
    if (keyId !== recorded && !(await registry.recordLeaseKey(config.alias, owner, keyId))) {
      // Another run took the lease over while this one was creating: its key wins, ours must go.
      await attempt(() => retireInKms(kms, keyId, config.deletionWindowDays));
      return undefined;
    }
    // KMS's clock, not this machine's: a fast local clock would start the key's window in the future.
    return { keyId, validFrom: await attempt(() => creationTime(kms, keyId)) };
  }

  async function registerKey(key: { keyId: string; validFrom: string }, purpose: string) {
    // A key created a moment ago may not be visible yet (NotFoundException), nor its tags to IAM.
    const { publicKey, keySpec } = await attempt(() => getPublicKey(kms, key.keyId));
    // Register before the alias moves: a signature by the new key must never meet an unknown key.
    await registry.register({
      ...lineFields(),
      keyId: key.keyId,
      keySpec,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      status: 'active',
      period: purpose,
      validFrom: key.validFrom,
      createdAt: now.toISOString(),
    });
  }

  /** What every key of this line records: its alias, purpose, pipeline and scope, and who made it. */
  function lineFields(): Pick<KeyRecord, 'alias' | 'purpose' | 'pipeline' | 'scope' | 'createdBy'> {
    return {
      alias: config.alias,
      purpose: config.purpose ?? 'signing',
      ...(config.pipeline ? { pipeline: config.pipeline } : {}),
      ...(config.scope ? { scope: [...config.scope] } : {}),
      ...(deps.createdBy ? { createdBy: deps.createdBy } : {}),
    };
  }

  /** Registers a key made elsewhere as the line's first: valid since KMS created it. */
  async function adopt(keyId: string): Promise<boolean> {
    const { publicKey, keySpec, keyArn } = await attempt(() => getPublicKey(kms, keyId));
    return registry.register({
      ...lineFields(),
      keyId: keyArn,
      keySpec,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      status: 'active',
      period: 'adopted',
      validFrom: await attempt(() => creationTime(kms, keyArn)),
      createdAt: now.toISOString(),
      adoptedAt: now.toISOString(),
      external: true,
    });
  }

  /**
   * Retires `older` (their signatures stay valid for the grace period after `since`, the newer key's
   * start), then points the alias at `newest`: never the other way round, so the alias is never left on
   * a key about to stop. Returns the keys it retired.
   */
  async function settle(newest: string | undefined, older: readonly string[], since?: string) {
    const done: string[] = [];
    if (newest === undefined) return done;
    const start = new Date(since ?? keys.find((k) => k.keyId === newest)?.validFrom ?? now);
    const validUntil = new Date(start.getTime() + config.graceDays * DAY_MS).toISOString();
    for (const keyId of older) if (await registry.retire(keyId, validUntil)) done.push(keyId);
    if ((await attempt(() => aliasTarget(kms, config.alias))) !== newest)
      await attempt(() => pointAlias(kms, config.alias, newest));
    return done;
  }
}
