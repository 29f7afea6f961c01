// Over ~300 lines on purpose: who may upload (one role per pipeline), who may fetch (the deployer), and
// the trust conditions both rest on, read together when reviewing access.
import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { keyPartitionKey } from '../lambdas/adapters/key-registry.ts';
import { objectPartitionKey, RECORD_READ_BY_KEY_ACTIONS } from '../lambdas/adapters/records.ts';
import { KEY_PURPOSES, KEY_TAGS } from '../lambdas/core/defaults.ts';
import { PURPOSE_TAG, SIGNING_PURPOSE, type VouchKeys } from './keys.ts';
import { acknowledge, logicalId, OBJECT_WILDCARD_REASON } from './nag.ts';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

/** What every pipeline's upload role trusts: GitHub's OIDC provider in this account. */
export interface GithubOidcProps {
  /**
   * An existing GitHub OIDC provider to trust; an account can hold only one per URL.
   * @default - the provider this creates, or the account's by its conventional ARN
   */
  readonly oidcProviderArn?: string;
  /**
   * Create the account's GitHub OIDC provider.
   * @default - false when `oidcProviderArn` is given, true otherwise
   */
  readonly createOidcProvider?: boolean;
}

/**
 * The ARN of the account's GitHub OIDC provider: created under `scope` when asked (its construct path
 * is part of the stack's API: a provider moved to another path would be created again before the old
 * one is deleted, and an account holds one per URL), else named or found by its conventional ARN.
 */
export function githubOidcProvider(scope: Construct, props: GithubOidcProps): string {
  const create = props.createOidcProvider ?? props.oidcProviderArn === undefined;
  if (create && props.oidcProviderArn !== undefined) {
    throw new Error('GithubOidc: createOidcProvider and oidcProviderArn exclude each other');
  }
  if (create)
    return new iam.OidcProviderNative(scope, 'GithubOidcProvider', {
      url: `https://${GITHUB_OIDC_HOST}`,
      clientIds: ['sts.amazonaws.com'],
    }).oidcProviderArn;
  return (
    props.oidcProviderArn ??
    Stack.of(scope).formatArn({
      service: 'iam',
      region: '',
      resource: 'oidc-provider',
      resourceName: GITHUB_OIDC_HOST,
    })
  );
}

/** A repository whose workflows may assume a pipeline's upload role. */
export interface UploaderRepository {
  readonly owner: string;
  readonly repo: string;
  /** Refs as IAM globs: `refs/heads/main`, `refs/tags/v*`. */
  readonly refs: readonly string[];
  /** A GitHub environment the job must run in. */
  readonly environment?: string;
}

export interface PipelineUploaderProps {
  readonly pipeline: string;
  readonly stagingBucket: s3.IBucket;
  readonly dataKey: kms.IKey;
  /** The decisions, so `vouch upload --wait` and `vouch status` can read this pipeline's own. */
  readonly records: dynamodb.ITable;
  /** The alias the pipeline signs through: it may sign with the key the alias points to, no other. */
  readonly signingKeyAlias: string;
  /** The staging prefixes it may write and whose records it may read, `a/b/` form. */
  readonly prefixes: readonly string[];
  readonly repositories: readonly UploaderRepository[];
  /**
   * The account's GitHub OIDC provider: named, created under this construct (`createOidcProvider`), or
   * found by its conventional ARN. Several pipelines share one (pass the first's `oidcProviderArn`).
   */
  readonly oidcProviderArn?: string;
  readonly createOidcProvider?: boolean;
}

/**
 * A pipeline's upload role, which GitHub Actions workflows of its repositories assume through OIDC:
 * short-lived credentials, no stored keys. It may upload under its own staging prefixes, read the
 * decisions about exactly those keys, and sign through its own alias, and nothing else: it cannot
 * read the deployment bucket, write another pipeline's prefix or sign with another pipeline's key.
 */
export class PipelineUploader extends Construct {
  public readonly role: iam.Role;
  public readonly prefixes: readonly string[];
  /** The provider its role trusts, for the other pipelines to trust too. */
  public readonly oidcProviderArn: string;

  constructor(scope: Construct, id: string, props: PipelineUploaderProps) {
    super(scope, id);
    this.oidcProviderArn = githubOidcProvider(this, props);
    this.prefixes = props.prefixes;
    if (props.repositories.length === 0)
      throw new Error(`PipelineUploader ${props.pipeline}: at least one repository is needed`);
    if (this.prefixes.length === 0)
      throw new Error(`PipelineUploader ${props.pipeline}: at least one prefix is needed`);
    for (const prefix of this.prefixes) {
      if (!prefix.endsWith('/') || prefix.startsWith('/') || /[*?$]/.test(prefix))
        throw new Error(`PipelineUploader: prefix must be a/b/ form without wildcards, found ${prefix}`);
    }
    const [first, ...rest] = trustConditions(props.repositories);
    this.role = new iam.Role(this, 'Role', {
      description:
        `Vouch uploader of pipeline ${props.pipeline}: ${props.repositories.map((r) => `${r.owner}/${r.repo}`).join(', ')}`.slice(
          0,
          1000,
        ),
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(this.oidcProviderArn, first),
    });
    // One statement per repository with an environment: its ref is checked on its own claim, and an
    // environment of one repository must not admit another's refs.
    for (const conditions of rest) {
      this.role.assumeRolePolicy?.addStatements(
        new iam.PolicyStatement({
          actions: ['sts:AssumeRoleWithWebIdentity'],
          principals: [new iam.FederatedPrincipal(this.oidcProviderArn)],
          conditions,
        }),
      );
    }
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UploadOwnPrefix',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: this.prefixes.map((prefix) => props.stagingBucket.arnForObjects(`${prefix}*`)),
      }),
    );
    props.dataKey.grant(this.role, 'kms:GenerateDataKey', 'kms:Decrypt');
    for (const prefix of this.prefixes) {
      acknowledge(
        this.role,
        `IAM5[Resource::<${logicalId(props.stagingBucket)}.Arn>/${prefix}*]`,
        'The uploader writes any key under its own prefixes, and nowhere else in the bucket.',
      );
    }
    // `vouch upload --wait` and `vouch status KEY` query the decisions of one object key: its records'
    // partition key starts with the key itself, so a leading-key prefix scopes them to this pipeline's
    // own prefixes. Only the table (never its indexes, which are by digest and status, across every
    // pipeline), only Query (what those commands send; no Scan, which names no leading key).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadOwnRecords',
        actions: RECORD_READ_BY_KEY_ACTIONS.map((action) => `dynamodb:${action}`),
        resources: [props.records.tableArn],
        conditions: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': this.prefixes.map((prefix) => `${objectPartitionKey(prefix)}*`),
          },
        },
      }),
    );
    // Signing goes through its alias only, so a workflow always signs with its pipeline's current key;
    // the tags keep the permission off every key that is not this pipeline's signing key, even if the
    // alias were pointed at one.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SignThroughAlias',
        actions: ['kms:Sign', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:RequestAlias': props.signingKeyAlias,
            [`aws:ResourceTag/${PURPOSE_TAG}`]: SIGNING_PURPOSE,
            [`aws:ResourceTag/${KEY_TAGS.alias}`]: props.signingKeyAlias,
          },
        },
      }),
    );
    acknowledge(
      this.role,
      'IAM5[Resource::*]',
      "A pipeline's signing key changes at every rotation; Sign is allowed only through its alias " +
        '(kms:RequestAlias) and only on keys tagged as its signing keys (vouch:purpose, vouch:alias).',
    );
  }
}

/**
 * Who may assume an upload role, as trust policy conditions: one set for every repository without an
 * environment (`sub` = `repo:OWNER/REPO:ref:REF`, refs as globs, tags included), and one per repository
 * with an environment, where GitHub's `sub` names the environment instead
 * (`repo:OWNER/REPO:environment:ENV`) and the ref is checked on the token's `ref` claim (an STS
 * condition key for GitHub tokens).
 */
export function trustConditions(repositories: readonly UploaderRepository[]): Record<string, unknown>[] {
  const audience = { [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com' };
  const byRef = repositories.filter((r) => r.environment === undefined);
  const groups: Record<string, unknown>[] = [];
  if (byRef.length > 0) {
    groups.push({
      StringEquals: audience,
      StringLike: {
        [`${GITHUB_OIDC_HOST}:sub`]: byRef.flatMap((r) =>
          r.refs.map((ref) => `repo:${r.owner}/${r.repo}:ref:${ref}`),
        ),
      },
    });
  }
  for (const r of repositories.filter((r) => r.environment !== undefined)) {
    groups.push({
      StringEquals: {
        ...audience,
        [`${GITHUB_OIDC_HOST}:sub`]: `repo:${r.owner}/${r.repo}:environment:${r.environment}`,
      },
      StringLike: { [`${GITHUB_OIDC_HOST}:ref`]: [...r.refs] },
    });
  }
  return groups;
}

export interface DeployerAccessProps {
  readonly deploymentBucket: s3.IBucket;
  readonly dataKey: kms.IKey;
  readonly keys: VouchKeys;
  /** The key registry: `vouch fetch` reads the summary key a VSA names, with its window and revocation. */
  readonly keyRegistry: dynamodb.ITable;
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
        // The rotating summary keys, for deployers who pin key IDs without reading the registry.
        new iam.PolicyStatement({
          sid: 'ReadSummaryPublicKeys',
          actions: ['kms:GetPublicKey'],
          resources: ['*'],
          conditions: { StringEquals: { [`aws:ResourceTag/${PURPOSE_TAG}`]: KEY_PURPOSES.vsa } },
        }),
        // One key's record at a time (the key a summary names): its purpose, window and revocation.
        new iam.PolicyStatement({
          sid: 'ReadKeyRecords',
          actions: ['dynamodb:GetItem'],
          resources: [props.keyRegistry.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${keyPartitionKey('')}*`] } },
        }),
      ],
    });
    acknowledge(
      this.policy,
      'IAM5[Resource::*]',
      'Summary keys are created by the rotation function at run time: reading their public keys is limited by their vouch:purpose tag.',
    );
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
