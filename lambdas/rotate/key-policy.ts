import { createHash } from 'node:crypto';

/**
 * Who may do what with a signing key, from the stack's configuration. Passed to CreateKey, so a key
 * never has KMS's default policy (the account root with `kms:*`), under which any principal whose IAM
 * policy allows `kms:Sign` on `*` could sign attestations the gate accepts.
 */
export interface SigningKeyPolicyConfig {
  /** The alias signers must sign through (`kms:RequestAlias`). */
  readonly alias: string;
  /** The rotation function's role: it creates the keys, moves the alias, retires and deletes them. */
  readonly managerArn: string;
  /** Roles that may sign, through the alias only (the CI uploader roles). */
  readonly signerArns: readonly string[];
  /** Roles that may read the public key (the verifier). */
  readonly readerArns: readonly string[];
}

export interface KeyPolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Principal: { readonly AWS: string | readonly string[] };
  readonly Action: readonly string[];
  readonly Resource: '*';
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface KeyPolicyDocument {
  readonly Version: '2012-10-17';
  readonly Id: string;
  readonly Statement: readonly KeyPolicyStatement[];
}

/** What the account (so IAM policies) may do: administer, never sign, never change this policy. */
export const ACCOUNT_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetPublicKey',
  'kms:ListResourceTags',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:UpdateKeyDescription',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
] as const;

/** What the rotation role does with the keys it created (lambdas/rotate/rotate.ts), and no more. */
export const MANAGER_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetPublicKey',
  'kms:ListResourceTags',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
] as const;

export const SIGNER_ACTIONS = ['kms:Sign', 'kms:DescribeKey'] as const;
export const READER_ACTIONS = ['kms:GetPublicKey', 'kms:DescribeKey'] as const;

const PRINCIPAL_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)\/[\w+=,.@/-]+$/;

function parseArn(arn: string, what: string): { partition: string; account: string } {
  const match = PRINCIPAL_ARN.exec(arn);
  if (!match)
    throw new Error(
      `signing key policy: ${what} must be an IAM role or user ARN, found ${JSON.stringify(arn)}`,
    );
  return { partition: match[1] as string, account: match[2] as string };
}

/**
 * The key policy of every signing key. Roles are named by `aws:PrincipalArn` under their account's
 * principal, not as principals: KMS refuses a policy naming a role it cannot see yet (one created in the
 * same deployment), and an ARN still matches a role that was deleted and created again (after a failed
 * deployment or `cdk destroy`), where a principal would have become a dangling unique ID. Under the
 * account principal, each use also needs the role's IAM policy to allow it.
 *
 * The one exception is `kms:PutKeyPolicy` for the manager, named directly: KMS's lockout safety check
 * refuses a new key whose policy would not let its creator change the policy, and Vouch does not bypass
 * the check (service control policies commonly forbid that). The manager's IAM policy does not allow
 * PutKeyPolicy, and nothing in Vouch calls it: a key's policy changes by rotating to a new key.
 */
export function signingKeyPolicy(config: SigningKeyPolicyConfig): KeyPolicyDocument {
  const manager = parseArn(config.managerArn, 'the manager');
  const root = (account: string) => `arn:${manager.partition}:iam::${account}:root`;
  const rootsOf = (arns: readonly string[], what: string) => {
    const accounts = [...new Set(arns.map((arn) => parseArn(arn, what).account))].sort();
    return accounts.length === 1 ? root(accounts[0] as string) : accounts.map(root);
  };
  const byArn = (arns: readonly string[]) => ({
    ArnEquals: { 'aws:PrincipalArn': arns.length === 1 ? (arns[0] as string) : [...arns].sort() },
  });
  const statements: KeyPolicyStatement[] = [
    {
      Sid: 'AccountAdministersWithoutSigning',
      Effect: 'Allow',
      Principal: { AWS: root(manager.account) },
      Action: [...ACCOUNT_ACTIONS],
      Resource: '*',
    },
    {
      Sid: 'RotationManagesTheKey',
      Effect: 'Allow',
      Principal: { AWS: root(manager.account) },
      Action: [...MANAGER_ACTIONS],
      Resource: '*',
      Condition: byArn([config.managerArn]),
    },
    {
      Sid: 'CreatorMayReplaceThePolicy',
      Effect: 'Allow',
      Principal: { AWS: config.managerArn },
      Action: ['kms:PutKeyPolicy'],
      Resource: '*',
    },
  ];
  if (config.signerArns.length > 0) {
    statements.push({
      Sid: 'SignersSignThroughTheAlias',
      Effect: 'Allow',
      Principal: { AWS: rootsOf(config.signerArns, 'a signer') },
      Action: [...SIGNER_ACTIONS],
      Resource: '*',
      Condition: { ...byArn(config.signerArns), StringEquals: { 'kms:RequestAlias': config.alias } },
    });
  }
  if (config.readerArns.length > 0) {
    statements.push({
      Sid: 'ReadersReadThePublicKey',
      Effect: 'Allow',
      Principal: { AWS: rootsOf(config.readerArns, 'a reader') },
      Action: [...READER_ACTIONS],
      Resource: '*',
      Condition: byArn(config.readerArns),
    });
  }
  return { Version: '2012-10-17', Id: 'vouch-signing-key', Statement: statements };
}

/**
 * A short digest of a policy document, kept in the key's `vouch:policy` tag: a run compares it with the
 * configured policy's and rotates when they differ (a signer added or removed by a deployment).
 */
export const policyDigest = (document: string): string =>
  createHash('sha256').update(document).digest('hex').slice(0, 32);
