import { randomUUID } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  type KeySpec,
  type KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import type { KeyRegistry } from '#adapters/key-registry.ts';
import { getPublicKey } from '#adapters/kms.ts';
import { KEY_PURPOSES, KEY_TAGS } from '#core/defaults.ts';
import { planRotation, type RotationConfig } from '#core/rotation.ts';
import { policyDigest, type SigningKeyPolicyConfig, signingKeyPolicy } from './key-policy.ts';
import { type Attempt, isRefusal, once, type RetryOptions, retrier } from './retry.ts';

/** The key policy new signing keys get. */
export interface KeyPolicyOption {
  /** The policy document, as CreateKey takes it. */
  readonly document: string;
  /** Kept in the key's `vouch:policy` tag; a key whose tag differs is replaced by a rotation. */
  readonly digest: string;
  /**
   * Skip KMS's lockout safety check. Only for a caller the policy does not name as its manager (an
   * administrator running `vouch keys rotate`): the manager keeps PutKeyPolicy through the policy.
   */
  readonly bypassLockoutCheck?: boolean;
}

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
  readonly skipped?: 'up-to-date' | 'lease-held' | 'lease-lost';
  readonly retired: readonly string[];
  readonly disabled: readonly string[];
  readonly deletionScheduled: readonly string[];
}

/** Tags on every key Vouch creates; IAM conditions on them scope what the rotation role may touch. */
export const SIGNING_TAG = { TagKey: KEY_TAGS.purpose, TagValue: KEY_PURPOSES.signing } as const;

/**
 * KMS's documented tag syntax (letters, digits, white space and `_ . : / = + - @`, at most 256
 * characters). The lease ID goes into the `vouch:period` tag, so every form of it must fit.
 */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

export function tagValue(value: string): string {
  if (!TAG_VALUE.test(value)) throw new Error(`${JSON.stringify(value)} is not a valid KMS tag value`);
  return value;
}

/** The lease of a rotation forced by hand (`vouch keys rotate --force`): one per instant. */
export const forcedLeaseId = (now: Date) => `forced:${now.toISOString()}`;

/**
 * The lease of a rotation that replaces a key whose policy is not the configured one: one per pair of
 * (policy, key replaced), so concurrent runs create one key, and a later change creates another.
 */
export const policyLeaseId = (digest: string, keyId: string) =>
  `policy:${digest}@${keyId.slice(keyId.lastIndexOf('/') + 1)}`;

export const POLICY_TAG = KEY_TAGS.policy;

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
  options: { force?: boolean } = {},
): Promise<RotationResult> {
  const now = (deps.now ?? (() => new Date()))();
  const owner = randomUUID();
  const { registry, kms } = deps;
  const attempt: Attempt = deps.retry ? retrier(deps.retry) : once;
  // The first request of a run made right after a deployment meets its role's policy not yet propagated.
  const keys = await attempt(() => registry.list());
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
    if (lease.state === 'creating' && lease.purpose) {
      [purpose, reason] = [lease.purpose, 'resumed'];
    } else if (options.force) {
      [purpose, reason] = [forcedLeaseId(now), 'forced'];
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
      skipped = 'up-to-date';
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
  for (const keyId of plan.disable) {
    await attempt(() => disableKey(kms, keyId));
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
      recorded ?? (resumed ? await attempt(() => findOrphan(kms, config.alias, purpose, known)) : undefined);
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
      keyId: key.keyId,
      alias: config.alias,
      keySpec,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      status: 'active',
      period: purpose,
      validFrom: key.validFrom,
      createdAt: now.toISOString(),
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

/** When KMS created a key, to the second: S3 records upload times to the second (see rotate()). */
async function creationTime(kms: KMSClient, keyId: string): Promise<string> {
  const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  if (!KeyMetadata?.CreationDate) throw new Error(`KMS DescribeKey for ${keyId} returned no creation date`);
  // S3 records upload times to the second, and an upload's time is the signing time of a keyed signature
  // without a log entry: a key created at 12:00:00.400 signs uploads stamped 12:00:00.
  return new Date(Math.floor(KeyMetadata.CreationDate.getTime() / 1000) * 1000).toISOString();
}

/** The key the alias points at now, if the alias exists. */
async function aliasTarget(kms: KMSClient, alias: string): Promise<string | undefined> {
  try {
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: alias }));
    return KeyMetadata?.Arn;
  } catch (error) {
    if ((error as Error).name === 'NotFoundException') return undefined;
    throw error;
  }
}

/** Most keys looked at for an orphan: the scan runs only after a crash between CreateKey and recording it. */
const ORPHAN_SCAN_LIMIT = 1000;

/**
 * A key a crashed run created for this alias and purpose but never recorded: found by its tags, so it
 * is adopted rather than left enabled and unregistered. Keys whose tags this role may not read (not
 * Vouch's) are passed over.
 */
async function findOrphan(
  kms: KMSClient,
  alias: string,
  purpose: string,
  registered: ReadonlySet<string>,
): Promise<string | undefined> {
  let marker: string | undefined;
  let seen = 0;
  do {
    const page = await kms.send(new ListKeysCommand({ Limit: 100, ...(marker ? { Marker: marker } : {}) }));
    for (const key of page.Keys ?? []) {
      if (!key.KeyArn || ++seen > ORPHAN_SCAN_LIMIT) return undefined;
      if (registered.has(key.KeyArn)) continue;
      let tags: readonly { TagKey?: string; TagValue?: string }[];
      try {
        tags = (await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyArn }))).Tags ?? [];
      } catch (error) {
        if (isRefusal(error)) continue;
        throw error;
      }
      const tag = (name: string) => tags.find((t) => t.TagKey === name)?.TagValue;
      if (
        tag(KEY_TAGS.purpose) === KEY_PURPOSES.signing &&
        tag(KEY_TAGS.alias) === alias &&
        tag(KEY_TAGS.period) === purpose
      )
        return key.KeyArn;
    }
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return undefined;
}

/**
 * The active key of the alias when its `vouch:policy` tag is not the configured policy's digest (no tag:
 * a key made before Vouch set policies, with KMS's default one). Undefined when it is, or none is active.
 */
async function keyWithOtherPolicy(
  kms: KMSClient,
  keys: readonly { keyId: string; alias: string; status: string; validFrom: string }[],
  alias: string,
  digest: string,
): Promise<string | undefined> {
  const active = keys
    .filter((key) => key.alias === alias && key.status === 'active')
    .sort((a, b) => b.validFrom.localeCompare(a.validFrom))[0];
  if (!active) return undefined;
  const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: active.keyId }));
  return Tags?.find((tag) => tag.TagKey === POLICY_TAG)?.TagValue === digest ? undefined : active.keyId;
}

async function createKey(
  kms: KMSClient,
  config: RotationConfig,
  period: string,
  policy: KeyPolicyOption | undefined,
): Promise<string> {
  const { KeyMetadata } = await kms.send(
    new CreateKeyCommand({
      KeySpec: config.keySpec as KeySpec,
      KeyUsage: 'SIGN_VERIFY',
      Description: `Vouch signing key for ${config.alias}, period ${period}`,
      ...(policy
        ? {
            Policy: policy.document,
            ...(policy.bypassLockoutCheck ? { BypassPolicyLockoutSafetyCheck: true } : {}),
          }
        : {}),
      Tags: [
        SIGNING_TAG,
        { TagKey: KEY_TAGS.alias, TagValue: config.alias },
        { TagKey: KEY_TAGS.period, TagValue: tagValue(period) },
        ...(policy ? [{ TagKey: POLICY_TAG, TagValue: tagValue(policy.digest) }] : []),
      ],
    }),
  );
  if (!KeyMetadata?.Arn) throw new Error('KMS CreateKey returned no key ARN');
  return KeyMetadata.Arn;
}

async function pointAlias(kms: KMSClient, alias: string, keyId: string): Promise<void> {
  try {
    await kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
  } catch (error) {
    if ((error as Error).name !== 'NotFoundException') throw error;
    try {
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    } catch (createError) {
      // Another run created it first: point it at ours, the registered key of the current lease.
      if ((createError as Error).name !== 'AlreadyExistsException') throw createError;
      await kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    }
  }
}

async function disableKey(kms: KMSClient, keyId: string): Promise<void> {
  try {
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
  } catch (error) {
    // Already pending deletion or gone: nothing can sign with it either way.
    if (!['KMSInvalidStateException', 'NotFoundException'].includes((error as Error).name)) throw error;
  }
}

async function scheduleDeletion(kms: KMSClient, keyId: string, days: number): Promise<void> {
  try {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
  } catch (error) {
    if (!['KMSInvalidStateException', 'NotFoundException'].includes((error as Error).name)) throw error;
  }
}

async function retireInKms(kms: KMSClient, keyId: string, days: number): Promise<void> {
  await disableKey(kms, keyId);
  await scheduleDeletion(kms, keyId, days);
}
