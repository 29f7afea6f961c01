import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { KEY_PURPOSES, KEY_TAGS } from '../lambdas/core/defaults.ts';
import { RETAINED } from './retention.ts';

/** The tag IAM conditions use to tell Vouch's signing keys from every other key in the account. */
export const PURPOSE_TAG = KEY_TAGS.purpose;
export const SIGNING_PURPOSE = KEY_PURPOSES.signing;

/**
 * What the account (and so IAM policies) may do on Vouch's own keys: administer them, never `kms:*`.
 * Use is added per key; for the VSA key that excludes kms:Sign, which only its key policy can grant.
 */
const ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:ListResourceTags',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:UpdateKeyDescription',
  'kms:ListGrants',
  'kms:RevokeGrant',
];
const DATA_KEY_USE = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:CreateGrant',
  'kms:RetireGrant',
];
const VSA_KEY_USE = ['kms:GetPublicKey', 'kms:Verify'];

/**
 * What the account may do with a signing key whose policy only a deployment changes (the VSA key, the
 * policy key): administer it, but not its policy, and verify with it. Signing is granted by name.
 */
export const SIGNING_KEY_ACCOUNT_ACTIONS = [
  ...ADMIN_ACTIONS.filter((action) => action !== 'kms:PutKeyPolicy'),
  ...VSA_KEY_USE,
];

/**
 * Only a CloudFormation deployment of this stack changes such a key's policy. With PutKeyPolicy in the
 * account statement, any principal whose IAM policy allows it could add itself as a signer. (Through
 * CloudFormation the caller's own request carries aws:CalledVia, so KMS's lockout check, which requires
 * the creator to be able to change the policy again, is met.)
 */
export const policyChangesOnlyThroughCloudFormation = () =>
  new iam.PolicyStatement({
    sid: 'PolicyChangesOnlyThroughCloudFormation',
    principals: [new iam.AccountRootPrincipal()],
    actions: ['kms:PutKeyPolicy'],
    resources: ['*'],
    conditions: { 'ForAnyValue:StringEquals': { 'aws:CalledVia': ['cloudformation.amazonaws.com'] } },
  });

/** What the rotation may do to the first VSA key, to point the summary alias at it. */
export const SUMMARY_ALIAS_ACTIONS = ['kms:CreateAlias', 'kms:UpdateAlias'];

/**
 * What a role that manages other keys must never do to these two: relabel them (tags are what its
 * permissions are scoped by), disable or delete them, move their aliases, or hand out their use.
 */
export const PROTECTED_KEY_ACTIONS = [
  'kms:TagResource',
  'kms:UntagResource',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:PutKeyPolicy',
  'kms:CreateGrant',
  'kms:Sign',
];

function keyPolicy(sid: string, actions: string[]): iam.PolicyDocument {
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid,
        principals: [new iam.AccountRootPrincipal()],
        actions,
        resources: ['*'],
      }),
    ],
  });
}

export interface VouchKeysProps {
  /**
   * Alias of the key that signs verification summary attestations (VSAs).
   * @default 'alias/vouch-vsa'
   */
  readonly vsaKeyAlias?: string;
  /**
   * The alias the rotating summary keys sign through. The first VSA key carries it as its `vouch:alias`
   * tag: the rotation function adopts it as that line's first key and points the alias at it.
   * @default - the key is not part of a rotating line
   */
  readonly vsaSigningAlias?: string;
  /**
   * What happens to both keys when the stack is deleted. Destroying them would make every VSA
   * unverifiable and every encrypted object unreadable. (The VSA alias is never retained: see below.)
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The CloudFormation-managed keys: a symmetric data key for buckets, tables and queues, and the pipeline's
 * own VSA signing key. The rotating artifact signing keys are not here: the rotation function creates them.
 */
export class VouchKeys extends Construct {
  /** Encrypts the buckets, tables and queues. Rotated yearly by KMS. */
  public readonly dataKey: kms.Key;
  /** Signs the verification summaries the promoter writes next to each artifact. */
  public readonly vsaKey: kms.Key;
  public readonly vsaKeyAlias: kms.Alias;

  constructor(scope: Construct, id: string, props: VouchKeysProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RETAINED;
    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Vouch data key: staging and deployment buckets, tables, queues',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      policy: keyPolicy('AccountAdministersAndIamGrantsUse', [...ADMIN_ACTIONS, ...DATA_KEY_USE]),
      removalPolicy,
    });
    // Alarm notifications are published to a topic encrypted with this key: this account's alarms only.
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    const vsaPolicy = keyPolicy('AccountAdministersAndReadsPublicKey', SIGNING_KEY_ACCOUNT_ACTIONS);
    vsaPolicy.addStatements(policyChangesOnlyThroughCloudFormation());
    this.vsaKey = new kms.Key(this, 'VsaKey', {
      description: 'Vouch VSA signing key: signs verification summaries of promoted artifacts',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      // No kms:Sign for the account: IAM cannot hand out VSA signing, only this key policy can.
      policy: vsaPolicy,
      removalPolicy,
    });
    // Deliberately not tagged vouch:purpose=signing: grants on artifact signing keys must never reach it.
    Tags.of(this.vsaKey).add(PURPOSE_TAG, 'vsa');
    if (props.vsaSigningAlias) Tags.of(this.vsaKey).add(KEY_TAGS.alias, props.vsaSigningAlias);
    this.vsaKeyAlias = new kms.Alias(this, 'VsaKeyAlias', {
      aliasName: props.vsaKeyAlias ?? 'alias/vouch-vsa',
      targetKey: this.vsaKey,
      // An alias is a fixed name, not state: retained, it would make every later deployment in the account
      // fail with AlreadyExists (after a failed first create or a `cdk destroy`). The key it names is kept.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /**
   * Denies a role any management of the data and VSA keys (PROTECTED_KEY_ACTIONS), whatever its IAM
   * policy says. For the rotation role: it may tag any key at creation (KMS needs TagResource on `*` for
   * that), and tags are what scope its right to disable and delete keys, so without this it could
   * relabel these two as signing keys and then disable or delete them.
   */
  public denyManagementBy(role: iam.IRole): void {
    for (const key of [this.dataKey, this.vsaKey]) {
      // The VSA key is the first key of the rotating summary line: the rotation may point that line's
      // alias at it (an alias names a key; it grants nothing the key's policy does not), nothing more.
      const actions =
        key === this.vsaKey
          ? PROTECTED_KEY_ACTIONS.filter((a) => !SUMMARY_ALIAS_ACTIONS.includes(a))
          : PROTECTED_KEY_ACTIONS;
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'NeverManagedByKeyRotation',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: [...actions],
          resources: ['*'],
          conditions: { ArnEquals: { 'aws:PrincipalArn': role.roleArn } },
        }),
      );
    }
  }

  /**
   * Lets one role sign VSAs. The key policy names it by `aws:PrincipalArn` under the account principal
   * rather than as a principal: KMS refuses a key policy naming a role it cannot see yet, and a role
   * created in the same deployment may not be visible for a while. The account's own statement leaves
   * kms:Sign out, so this is the only way to sign: an identity policy, however broad, lets no other
   * principal sign a verification summary. The role's identity policy allows it too, as the account
   * principal requires.
   */
  public grantVsaSign(role: iam.IRole): iam.Grant {
    const actions = ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'];
    this.vsaKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PromoterSignsVsas',
        principals: [new iam.AccountRootPrincipal()],
        actions,
        resources: ['*'],
        conditions: { ArnEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
    return iam.Grant.addToPrincipal({ grantee: role, actions, resourceArns: [this.vsaKey.keyArn] });
  }
}
