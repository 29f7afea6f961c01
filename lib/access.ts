import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PURPOSE_TAG, SIGNING_PURPOSE, type VouchKeys } from './keys.ts';
import { acknowledge, logicalId, OBJECT_WILDCARD_REASON } from './nag.ts';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

export interface GithubUploaderProps {
  readonly stagingBucket: s3.IBucket;
  readonly dataKey: kms.IKey;
  /** The alias the uploader signs through: it may sign with the key the alias points to, no other. */
  readonly signingKeyAlias: string;
  readonly owner: string;
  readonly repo: string;
  /** Branches whose workflows may assume the role; `*` globs. @default ['main'] */
  readonly branches?: readonly string[];
  /**
   * The staging prefix the role may write. Policies match the whole key, prefix included.
   * @default `${owner}/${repo}/`
   */
  readonly prefix?: string;
  /**
   * An existing GitHub OIDC provider to trust; an account can hold only one per URL.
   * @default - the provider this construct creates, or the account's by its conventional ARN
   */
  readonly oidcProviderArn?: string;
  /**
   * Create the account's GitHub OIDC provider.
   * @default - false when `oidcProviderArn` is given, true otherwise
   */
  readonly createOidcProvider?: boolean;
}

/**
 * A role GitHub Actions workflows assume through OIDC: short-lived credentials, no stored keys. It may
 * upload under its own staging prefix and sign through the signing alias, and nothing else: it cannot
 * read the deployment bucket, write another repository's prefix or sign with a retired key.
 */
export class GithubUploader extends Construct {
  public readonly role: iam.Role;
  public readonly prefix: string;

  constructor(scope: Construct, id: string, props: GithubUploaderProps) {
    super(scope, id);
    const branches = props.branches ?? ['main'];
    if (branches.length === 0) throw new Error('GithubUploader: branches must name at least one branch');
    this.prefix = props.prefix ?? `${props.owner}/${props.repo}/`;
    if (!this.prefix.endsWith('/') || this.prefix.startsWith('/') || this.prefix.includes('*')) {
      throw new Error(`GithubUploader: prefix must be a/b/ form without wildcards, found ${this.prefix}`);
    }
    const create = props.createOidcProvider ?? props.oidcProviderArn === undefined;
    if (create && props.oidcProviderArn !== undefined) {
      throw new Error('GithubUploader: createOidcProvider and oidcProviderArn exclude each other');
    }
    const providerArn = create
      ? new iam.OidcProviderNative(this, 'GithubOidcProvider', {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIds: ['sts.amazonaws.com'],
        }).oidcProviderArn
      : (props.oidcProviderArn ??
        Stack.of(this).formatArn({
          service: 'iam',
          region: '',
          resource: 'oidc-provider',
          resourceName: GITHUB_OIDC_HOST,
        }));

    this.role = new iam.Role(this, 'Role', {
      description: `Vouch uploader for GitHub ${props.owner}/${props.repo} (${branches.join(', ')})`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(providerArn, {
        StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com' },
        StringLike: {
          [`${GITHUB_OIDC_HOST}:sub`]: branches.map(
            (branch) => `repo:${props.owner}/${props.repo}:ref:refs/heads/${branch}`,
          ),
        },
      }),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UploadOwnPrefix',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [props.stagingBucket.arnForObjects(`${this.prefix}*`)],
      }),
    );
    props.dataKey.grant(this.role, 'kms:GenerateDataKey', 'kms:Decrypt');
    acknowledge(
      this.role,
      `IAM5[Resource::<${logicalId(props.stagingBucket)}.Arn>/${this.prefix}*]`,
      'The uploader writes any key under its own prefix, and nowhere else in the bucket.',
    );
    // Signing goes through the alias only, so a workflow always signs with the current key; the tag keeps
    // the permission off every key that is not a Vouch signing key even if the alias were pointed at one.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SignThroughAlias',
        actions: ['kms:Sign', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:RequestAlias': props.signingKeyAlias,
            [`aws:ResourceTag/${PURPOSE_TAG}`]: SIGNING_PURPOSE,
          },
        },
      }),
    );
    acknowledge(
      this.role,
      'IAM5[Resource::*]',
      'The signing key changes at every rotation; Sign is allowed only through the signing alias ' +
        '(kms:RequestAlias) and only on keys tagged vouch:purpose=signing.',
    );
  }
}

export interface DeployerAccessProps {
  readonly deploymentBucket: s3.IBucket;
  readonly dataKey: kms.IKey;
  readonly keys: VouchKeys;
  /**
   * Principals (role or user ARNs) allowed to assume a deployer role.
   * @default - no role; attach the managed policy yourself
   */
  readonly principalArns?: readonly string[];
}

/**
 * What `vouch fetch` needs: read the deployment bucket and the VSA public key. A managed policy, so it can
 * be attached to existing deployment roles, and optionally a role that named principals may assume.
 */
export class DeployerAccess extends Construct {
  public readonly policy: iam.ManagedPolicy;
  public readonly role?: iam.Role;

  constructor(scope: Construct, id: string, props: DeployerAccessProps) {
    super(scope, id);
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'Vouch deployer: fetch promoted artifacts and check their verification summaries',
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadPromoted',
          actions: ['s3:GetObject'],
          resources: [props.deploymentBucket.arnForObjects('*')],
        }),
        new iam.PolicyStatement({
          sid: 'ListPromoted',
          actions: ['s3:ListBucket'],
          resources: [props.deploymentBucket.bucketArn],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptPromoted',
          actions: ['kms:Decrypt'],
          resources: [props.dataKey.keyArn],
        }),
        new iam.PolicyStatement({
          sid: 'ReadVsaPublicKey',
          actions: ['kms:GetPublicKey', 'kms:DescribeKey'],
          resources: [props.keys.vsaKey.keyArn],
        }),
      ],
    });
    acknowledge(
      this.policy,
      `IAM5[Resource::<${logicalId(props.deploymentBucket)}.Arn>/*]`,
      OBJECT_WILDCARD_REASON,
    );
    const principals = props.principalArns ?? [];
    if (principals.length > 0) {
      this.role = new iam.Role(this, 'Role', {
        description: 'Vouch deployer: fetches promoted artifacts and verifies them again',
        maxSessionDuration: Duration.hours(1),
        assumedBy: principalsByArn(principals),
        managedPolicies: [this.policy],
      });
    }
  }
}

const PRINCIPAL_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)\/[\w+=,.@/-]+$/;

/**
 * Trusts the given IAM principals by ARN: their accounts are the principals and `aws:PrincipalArn` picks
 * them out. IAM refuses a trust policy that names a principal that does not exist (a typo, or a role
 * created later), which would fail the deployment; matched by ARN, a principal that does not exist yet
 * is simply not trusted until it does, and a role deleted and re-created keeps its access.
 */
export function principalsByArn(arns: readonly string[]): iam.IPrincipal {
  const accounts = new Set<string>();
  for (const arn of arns) {
    const match = PRINCIPAL_ARN.exec(arn);
    if (!match) throw new Error(`expected an IAM role or user ARN, found ${JSON.stringify(arn)}`);
    accounts.add(match[2] as string);
  }
  return new iam.PrincipalWithConditions(
    new iam.CompositePrincipal(...[...accounts].map((account) => new iam.AccountPrincipal(account))),
    { ArnEquals: { 'aws:PrincipalArn': [...arns] } },
  );
}
