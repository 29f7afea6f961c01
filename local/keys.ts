import {
  CreateAliasCommand,
  CreateKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { DEFAULT_POLICY_KEY_ALIAS, KEY_TAGS } from '#core/index.ts';

export const POLICY_KEY_ALIAS = DEFAULT_POLICY_KEY_ALIAS;

/**
 * A P-256 signing key behind `alias`, created (with `tags`) the first time the local stack starts; a
 * restart keeps it (the KMS server's data directory). Returns its ARN when this start created it.
 */
export async function ensureAliasedKey(
  client: KMSClient,
  alias: string,
  description: string,
  tags: Readonly<Record<string, string>>,
): Promise<string | undefined> {
  try {
    await client.send(new GetPublicKeyCommand({ KeyId: alias }));
    return undefined;
  } catch (error) {
    if ((error as Error).name !== 'NotFoundException') throw error;
    const { KeyMetadata } = await client.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description: description,
        Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      }),
    );
    await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: KeyMetadata?.KeyId }));
    return KeyMetadata?.Arn;
  }
}

/** The policy key: `vouch policy sign` signs with it, the verifier verifies bundles against it. */
export const ensurePolicyKey = (client: KMSClient) =>
  ensureAliasedKey(client, POLICY_KEY_ALIAS, 'Vouch policy bundles', { [KEY_TAGS.purpose]: 'policy' });
