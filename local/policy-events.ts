import {
  CreateAliasCommand,
  CreateKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { DEFAULT_POLICY_KEY_ALIAS, KEY_TAGS } from '#core/index.ts';

export const POLICY_KEY_ALIAS = DEFAULT_POLICY_KEY_ALIAS;

/**
 * The policy key of the local stack: `vouch policy sign` signs with it, the verifier verifies bundles
 * against it. Created once; a restart keeps it (the KMS server's data directory). Returns its ARN when
 * this start created it.
 */
export async function ensurePolicyKey(client: KMSClient): Promise<string | undefined> {
  try {
    await client.send(new GetPublicKeyCommand({ KeyId: POLICY_KEY_ALIAS }));
    return undefined;
  } catch (error) {
    if ((error as Error).name !== 'NotFoundException') throw error;
    const { KeyMetadata } = await client.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description: 'Vouch policy bundles',
        Tags: [{ TagKey: KEY_TAGS.purpose, TagValue: 'policy' }],
      }),
    );
    await client.send(
      new CreateAliasCommand({ AliasName: POLICY_KEY_ALIAS, TargetKeyId: KeyMetadata?.KeyId }),
    );
    return KeyMetadata?.Arn;
  }
}
