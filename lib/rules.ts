import { type CfnResource, Stack } from 'aws-cdk-lib';
import { CfnKey } from 'aws-cdk-lib/aws-kms';
import { CfnBucket, CfnBucketPolicy } from 'aws-cdk-lib/aws-s3';
import { NagMessageLevel, NagPack, type NagPackProps, NagRuleCompliance } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { KEY_PURPOSES, KEY_TAGS } from '../lambdas/core/defaults.ts';

/**
 * Vouch's own invariants as cdk-nag rules, run on every synth beside AWS Solutions: each is one pure
 * function of a resource, compliant / non-compliant / not applicable.
 */

/** Marks the resources the rules below are about (CloudFormation metadata: no effect on AWS). */
export const ROLE_METADATA = 'vouch:role';
export const DEPLOYMENT_BUCKET_ROLE = 'deployment-bucket';

interface Statement {
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: string | readonly string[];
  readonly Resource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | readonly T[] | undefined): readonly T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value as T];

const statementsOf = (document: unknown): Statement[] =>
  [...list((document as { Statement?: Statement | Statement[] } | undefined)?.Statement)] as Statement[];

const isAnyone = (principal: unknown) =>
  principal === '*' || (principal as { AWS?: unknown } | undefined)?.AWS === '*';

/** The one principal ARN a statement is limited to by `aws:PrincipalArn`, if it is. */
const principalArnCondition = (statement: Statement, operator: 'ArnEquals' | 'ArnNotEquals') => {
  const values = list(statement.Condition?.[operator]?.['aws:PrincipalArn']);
  return values.length === 1 ? JSON.stringify(values[0]) : undefined;
};

function deploymentWriterDenial(node: CfnResource, bucket: CfnBucket): Statement | undefined {
  const stack = Stack.of(node);
  const bucketRef = JSON.stringify(stack.resolve(bucket.ref));
  for (const child of stack.node.findAll()) {
    if (!(child instanceof CfnBucketPolicy)) continue;
    if (JSON.stringify(stack.resolve(child.bucket)) !== bucketRef) continue;
    const denial = statementsOf(stack.resolve(child.policyDocument)).find(
      (s) =>
        s.Effect === 'Deny' &&
        isAnyone(s.Principal) &&
        ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'].every((a) =>
          list(s.Action).includes(a),
        ) &&
        principalArnCondition(s, 'ArnNotEquals') !== undefined,
    );
    if (denial) return denial;
  }
  return undefined;
}

/** The deployment bucket denies every object write to every principal but one role: the promoter. */
export function deploymentBucketPromoterOnly(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnBucket) || node.getMetadata(ROLE_METADATA) !== DEPLOYMENT_BUCKET_ROLE)
    return NagRuleCompliance.NOT_APPLICABLE;
  return deploymentWriterDenial(node, node) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
Object.defineProperty(deploymentBucketPromoterOnly, 'name', { value: 'DeploymentPromoterOnly' });

/**
 * Nobody but the promoter signs VSAs: on the VSA key every statement that allows kms:Sign is limited to
 * one principal ARN, and it is the role the deployment bucket lets write.
 */
export function vsaKeySignedByPromoterOnly(node: CfnResource): NagRuleCompliance {
  if (!(node instanceof CfnKey)) return NagRuleCompliance.NOT_APPLICABLE;
  const stack = Stack.of(node);
  if (node.tags.tagValues()[KEY_TAGS.purpose] !== KEY_PURPOSES.vsa) return NagRuleCompliance.NOT_APPLICABLE;
  const deployment = stack.node
    .findAll()
    .find(
      (c): c is CfnBucket =>
        c instanceof CfnBucket && c.getMetadata(ROLE_METADATA) === DEPLOYMENT_BUCKET_ROLE,
    );
  const promoter = deployment && deploymentWriterDenial(node, deployment);
  const promoterArn = promoter && principalArnCondition(promoter, 'ArnNotEquals');
  const signers = statementsOf(stack.resolve(node.keyPolicy)).filter(
    (s) => s.Effect !== 'Deny' && list(s.Action).some((a) => a === 'kms:Sign' || a === 'kms:*' || a === '*'),
  );
  const compliant =
    promoterArn !== undefined &&
    signers.every(
      (s) => principalArnCondition(s, 'ArnEquals') === promoterArn && !list(s.Action).includes('kms:*'),
    );
  return compliant ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
Object.defineProperty(vsaKeySignedByPromoterOnly, 'name', { value: 'VsaSignedByPromoterOnly' });

const POLICY_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::IAM::Policy': ['policyDocument'],
  'AWS::IAM::ManagedPolicy': ['policyDocument'],
  'AWS::IAM::Role': ['policies'],
  'AWS::S3::BucketPolicy': ['policyDocument'],
  'AWS::KMS::Key': ['keyPolicy'],
  'AWS::SNS::TopicPolicy': ['policyDocument'],
  'AWS::SQS::QueuePolicy': ['policyDocument'],
};

/** No statement allows a wildcard action (`*`, `service:*`): every grant names what it allows. */
export function noWildcardActions(node: CfnResource): NagRuleCompliance {
  const properties = POLICY_PROPERTIES[node.cfnResourceType];
  if (!properties) return NagRuleCompliance.NOT_APPLICABLE;
  const stack = Stack.of(node);
  const documents = properties.flatMap((property) => {
    const value = stack.resolve((node as unknown as Record<string, unknown>)[property]);
    // A role's inline policies are a list of { PolicyName, PolicyDocument }.
    return Array.isArray(value)
      ? value.map((p) => (p as { policyDocument?: unknown }).policyDocument ?? p)
      : [value];
  });
  const wildcard = documents
    .flatMap(statementsOf)
    .some((s) => s.Effect !== 'Deny' && list(s.Action).some((a) => a === '*' || /^[a-z0-9-]+:\*$/i.test(a)));
  return wildcard ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
}
Object.defineProperty(noWildcardActions, 'name', { value: 'NoWildcardActions' });

export const VOUCH_RULES = [
  {
    rule: deploymentBucketPromoterOnly,
    info: 'The deployment bucket does not deny object writes to every principal but the promoter.',
    explanation:
      'Only the promoter may write the bucket deployers fetch from; an administrator policy must not get around it.',
  },
  {
    rule: vsaKeySignedByPromoterOnly,
    info: 'Someone other than the promoter may sign with the VSA key.',
    explanation:
      'A VSA says an artifact was verified: only the role that verified and promoted it may sign one.',
  },
  {
    rule: noWildcardActions,
    info: 'A policy statement allows a wildcard action.',
    explanation: 'Every grant names the actions it allows, so a new service action never widens it silently.',
  },
] as const;

/** The rules above, as a cdk-nag pack: `Validations.of(app).addPlugins(new VouchChecks(app))`. */
export class VouchChecks extends NagPack {
  readonly name = 'Vouch';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'Vouch';
  }

  protected checkResource(node: CfnResource): void {
    for (const { rule, info, explanation } of VOUCH_RULES) {
      this.applyRule({ info, explanation, level: NagMessageLevel.ERROR, node, rule });
    }
  }
}
