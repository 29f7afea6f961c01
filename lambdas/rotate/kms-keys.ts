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
import { KEY_PURPOSES, KEY_TAGS } from '#core/defaults.ts';
import type { KeyPurpose } from '#core/keys.ts';
import type { RotationConfig } from '#core/rotation.ts';
import { isRefusal } from './retry.ts';

/**
 * The KMS side of a rotation: creating, finding, pointing at, disabling and deleting a line's keys, and
 * the tags that let IAM tell them apart. Each step tolerates having been done already.
 */

/** The key policy new keys get. */
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

/** Tags on every key Vouch creates; IAM conditions on them scope what the rotation role may touch. */
export const SIGNING_TAG = { TagKey: KEY_TAGS.purpose, TagValue: KEY_PURPOSES.signing } as const;
export const purposeTag = (purpose: KeyPurpose = 'signing') =>
  ({ TagKey: KEY_TAGS.purpose, TagValue: KEY_PURPOSES[purpose] }) as const;

/**
 * KMS's documented tag syntax (letters, digits, white space and `_ . : / = + - @`, at most 256
 * characters). The lease ID goes into the `vouch:period` tag, so every form of it must fit.
 */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

export function tagValue(value: string): string {
  if (!TAG_VALUE.test(value)) throw new Error(`${JSON.stringify(value)} is not a valid KMS tag value`);
  return value;
}

export const POLICY_TAG = KEY_TAGS.policy;

/** When KMS created a key, to the second: S3 records upload times to the second (see rotate()). */
export async function creationTime(kms: KMSClient, keyId: string): Promise<string> {
  const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  if (!KeyMetadata?.CreationDate) throw new Error(`KMS DescribeKey for ${keyId} returned no creation date`);
  // S3 records upload times to the second, and an upload's time is the signing time of a keyed signature
  // without a log entry: a key created at 12:00:00.400 signs uploads stamped 12:00:00.
  return new Date(Math.floor(KeyMetadata.CreationDate.getTime() / 1000) * 1000).toISOString();
}

/** The key the alias points at now, if the alias exists. */
export async function aliasTarget(kms: KMSClient, alias: string): Promise<string | undefined> {
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
export async function findOrphan(
  kms: KMSClient,
  config: Pick<RotationConfig, 'alias' | 'purpose'>,
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
        tag(KEY_TAGS.purpose) === KEY_PURPOSES[config.purpose ?? 'signing'] &&
        tag(KEY_TAGS.alias) === config.alias &&
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
export async function keyWithOtherPolicy(
  kms: KMSClient,
  keys: readonly { keyId: string; alias: string; status: string; validFrom: string; external?: boolean }[],
  alias: string,
  digest: string,
): Promise<string | undefined> {
  const active = keys
    .filter((key) => key.alias === alias && key.status === 'active')
    .sort((a, b) => b.validFrom.localeCompare(a.validFrom))[0];
  // A key the stack made (adopted) has the stack's policy, not one the rotation configures.
  if (!active || active.external) return undefined;
  const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: active.keyId }));
  return Tags?.find((tag) => tag.TagKey === POLICY_TAG)?.TagValue === digest ? undefined : active.keyId;
}

export async function createKey(
  kms: KMSClient,
  config: RotationConfig,
  period: string,
  policy: KeyPolicyOption | undefined,
): Promise<string> {
  const { KeyMetadata } = await kms.send(
    new CreateKeyCommand({
      KeySpec: config.keySpec as KeySpec,
      KeyUsage: 'SIGN_VERIFY',
      Description: `${config.purpose === 'vsa' ? 'Vouch verification summary key' : `Vouch signing key${config.pipeline ? ` of pipeline ${config.pipeline}` : ''}`} behind ${config.alias}, period ${period}`,
      ...(policy
        ? {
            Policy: policy.document,
            ...(policy.bypassLockoutCheck ? { BypassPolicyLockoutSafetyCheck: true } : {}),
          }
        : {}),
      Tags: [
        purposeTag(config.purpose),
        { TagKey: KEY_TAGS.alias, TagValue: config.alias },
        { TagKey: KEY_TAGS.period, TagValue: tagValue(period) },
        ...(policy ? [{ TagKey: POLICY_TAG, TagValue: tagValue(policy.digest) }] : []),
      ],
    }),
  );
  if (!KeyMetadata?.Arn) throw new Error('KMS CreateKey returned no key ARN');
  return KeyMetadata.Arn;
}

export async function pointAlias(kms: KMSClient, alias: string, keyId: string): Promise<void> {
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

export async function disableKey(kms: KMSClient, keyId: string): Promise<void> {
  try {
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
  } catch (error) {
    // Already pending deletion or gone: nothing can sign with it either way.
    if (!['KMSInvalidStateException', 'NotFoundException'].includes((error as Error).name)) throw error;
  }
}

export async function scheduleDeletion(kms: KMSClient, keyId: string, days: number): Promise<void> {
  try {
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days }));
  } catch (error) {
    if (!['KMSInvalidStateException', 'NotFoundException'].includes((error as Error).name)) throw error;
  }
}

export async function retireInKms(kms: KMSClient, keyId: string, days: number): Promise<void> {
  await disableKey(kms, keyId);
  await scheduleDeletion(kms, keyId, days);
}
