import { randomUUID } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  type KeySpec,
  type KMSClient,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import type { KeyRegistry } from '#adapters/key-registry.ts';
import { getPublicKey } from '#adapters/kms.ts';
import { planRotation, type RotationConfig } from '#core/rotation.ts';

export interface RotationDeps {
  readonly kms: KMSClient;
  readonly registry: KeyRegistry;
  readonly now?: () => Date;
  /** How long a run may hold the rotation lease before another may take over. */
  readonly leaseMs?: number;
}

export interface RotationResult {
  /** The key that became active in this run, if any. */
  readonly activated?: string;
  /** Why no key was activated. */
  readonly skipped?: 'up-to-date' | 'lease-held' | 'lease-lost';
  readonly retired: readonly string[];
  readonly disabled: readonly string[];
  readonly deletionScheduled: readonly string[];
}

/** Tags on every key Vouch creates; IAM conditions on them scope what the rotation role may touch. */
export const SIGNING_TAG = { TagKey: 'vouch:purpose', TagValue: 'signing' } as const;

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

const DAY_MS = 86_400_000;

/**
 * One rotation run. Safe to run twice at once or again after a crash: the lease makes exactly one run
 * create the period's key, each registry change is a conditional write, and each KMS step tolerates
 * having been done already. `force` rotates now whatever the period (after a revocation).
 */
export async function rotate(
  deps: RotationDeps,
  config: RotationConfig,
  options: { force?: boolean } = {},
): Promise<RotationResult> {
  const now = (deps.now ?? (() => new Date()))();
  const owner = randomUUID();
  const { registry, kms } = deps;
  const plan = planRotation(await registry.list(), now, config);

  let activated: string | undefined;
  let skipped: RotationResult['skipped'];
  const retired: string[] = [];
  const leaseId = options.force ? forcedLeaseId(now) : plan.createFor;
  if (leaseId === undefined) {
    skipped = 'up-to-date';
  } else {
    const lease = await registry.acquireRotationLease(
      config.alias,
      leaseId,
      owner,
      now,
      deps.leaseMs ?? 5 * 60_000,
    );
    if (!lease) {
      skipped = 'lease-held';
    } else {
      const keyId = lease.keyId ?? (await createKey(kms, config, leaseId));
      if (!lease.keyId && !(await registry.recordLeaseKey(config.alias, leaseId, owner, keyId))) {
        // Another run took the lease over while this one was creating: its key wins, ours must go.
        await retireInKms(kms, keyId, config.deletionWindowDays);
        skipped = 'lease-lost';
      } else {
        const { publicKey, keySpec } = await getPublicKey(kms, keyId);
        // Register before the alias moves: a signature by the new key must never meet an unknown key.
        await registry.register({
          keyId,
          alias: config.alias,
          keySpec,
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          status: 'active',
          period: leaseId,
          // S3 records upload times to the second, and an upload's time is the signing time of a keyed
          // signature without a log entry: a key created at 12:00:00.400 signs uploads stamped 12:00:00.
          validFrom: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
          createdAt: now.toISOString(),
        });
        const validUntil = new Date(now.getTime() + config.graceDays * DAY_MS).toISOString();
        for (const previous of (await registry.list()).filter(
          (k) => k.alias === config.alias && k.status === 'active' && k.keyId !== keyId,
        )) {
          if (await registry.retire(previous.keyId, validUntil)) retired.push(previous.keyId);
        }
        await pointAlias(kms, config.alias, keyId);
        await registry.completeLease(config.alias, leaseId, owner);
        activated = keyId;
      }
    }
  }

  const disabled: string[] = [];
  for (const keyId of plan.disable) {
    await disableKey(kms, keyId);
    if (await registry.markRetired(keyId, now.toISOString())) disabled.push(keyId);
  }
  const deletionScheduled: string[] = [];
  for (const keyId of plan.scheduleDeletion) {
    await scheduleDeletion(kms, keyId, config.deletionWindowDays);
    if (await registry.markDeletionScheduled(keyId, now.toISOString())) deletionScheduled.push(keyId);
  }
  return {
    ...(activated ? { activated } : {}),
    ...(skipped ? { skipped } : {}),
    retired,
    disabled,
    deletionScheduled,
  };
}

async function createKey(kms: KMSClient, config: RotationConfig, period: string): Promise<string> {
  const { KeyMetadata } = await kms.send(
    new CreateKeyCommand({
      KeySpec: config.keySpec as KeySpec,
      KeyUsage: 'SIGN_VERIFY',
      Description: `Vouch signing key for ${config.alias}, period ${period}`,
      Tags: [
        SIGNING_TAG,
        { TagKey: 'vouch:alias', TagValue: config.alias },
        { TagKey: 'vouch:period', TagValue: tagValue(period) },
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
