import { type CfnTemplate, list, type Statement, statements } from './synth.ts';

/**
 * A small evaluator of the synthesized template's IAM statements, so tests can ask what a principal may
 * do (this action, on this resource, with these request context keys) rather than how a statement is
 * spelt. CloudFormation values are flattened to strings with `${LogicalId}` / `${LogicalId.Arn}` in
 * place of references; requests name resources the same way. It knows the operators the stack uses;
 * an unknown operator throws, so a test never passes on a condition it did not read.
 */

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** A CloudFormation value as a string: references become `${LogicalId}` or `${LogicalId.Attribute}`. */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return PSEUDO[v.Ref] ?? `\${${v.Ref}}`;
  if (Array.isArray(v['Fn::GetAtt'])) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if (Array.isArray(v['Fn::Join'])) {
    const [delimiter, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(delimiter);
  }
  return JSON.stringify(value);
}

const glob = (pattern: string, value: string, caseInsensitive = false) =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    caseInsensitive ? 'is' : 's',
  ).test(value);

export interface Request {
  readonly action: string;
  /** The resource, flattened as the template's are (`${StagingBucketF0D7AEDD.Arn}/acme/app/x`). */
  readonly resource?: string;
  /** Request context: `aws:PrincipalArn`, `kms:RequestAlias`, `dynamodb:LeadingKeys` (a list), … */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

function conditionHolds(condition: Statement['Condition'], context: Request['context'] = {}): boolean {
  for (const [operator, entries] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const wanted = list(expected as string | string[]).map(flatten);
      const given = context[key];
      const values = given === undefined ? [] : typeof given === 'string' ? [given] : [...given];
      const one = (match: (pattern: string, value: string) => boolean) =>
        values.length === 1 && wanted.some((pattern) => match(pattern, values[0] as string));
      const equal = (a: string, b: string) => a === b;
      const like = (a: string, b: string) => glob(a, b);
      let holds: boolean;
      switch (operator) {
        case 'StringEquals':
        case 'ArnEquals':
          holds = one(equal);
          break;
        case 'StringLike':
        case 'ArnLike':
          holds = one(like);
          break;
        case 'ArnNotEquals':
        case 'StringNotEquals':
          // A missing key matches a negated operator, as in IAM.
          holds = values.length === 0 || !one(equal);
          break;
        case 'ForAllValues:StringEquals':
          holds = values.every((value) => wanted.includes(value));
          break;
        case 'ForAllValues:StringLike':
          holds = values.every((value) => wanted.some((pattern) => glob(pattern, value)));
          break;
        case 'ForAnyValue:StringEquals':
          holds = values.some((value) => wanted.includes(value));
          break;
        default:
          throw new Error(`iam.ts does not evaluate ${operator}`);
      }
      if (!holds) return false;
    }
  }
  return true;
}

function applies(statement: Statement, request: Request): boolean {
  if (!list(statement.Action).some((pattern) => glob(pattern, request.action, true))) return false;
  const resources =
    statement.Resource === undefined ? ['*'] : list(statement.Resource as string[]).map(flatten);
  if (
    request.resource !== undefined &&
    !resources.some((pattern) => glob(pattern, request.resource as string))
  )
    return false;
  return conditionHolds(statement.Condition, request.context);
}

/** Whether the identity policies of `role` (a logical ID) allow the request, and no deny of theirs refuses it. */
export function identityAllows(template: CfnTemplate, role: string, request: Request): boolean {
  const identity = statements(template).filter((s) => s.roles.includes(role) && !isTrust(s.statement));
  if (identity.some((s) => s.statement.Effect === 'Deny' && applies(s.statement, request))) return false;
  return identity.some((s) => s.statement.Effect === 'Allow' && applies(s.statement, request));
}

const isTrust = (statement: Statement) =>
  list(statement.Action).some((action) => action.startsWith('sts:AssumeRole'));

/** Whether a role's trust policy lets a web identity with these token claims (context keys) assume it. */
export function trustAllows(template: CfnTemplate, role: string, context: Request['context']): boolean {
  const trust = template.Resources[role]?.Properties?.AssumeRolePolicyDocument?.Statement as Statement[];
  return trust.some(
    (s) =>
      s.Effect === 'Allow' &&
      list(s.Action).includes('sts:AssumeRoleWithWebIdentity') &&
      conditionHolds(s.Condition, context),
  );
}

/** Whether a resource policy (a statement list) denies the request. */
export function resourcePolicyDenies(policy: Statement[], request: Request): boolean {
  return policy.some((s) => s.Effect === 'Deny' && applies(s, request));
}
