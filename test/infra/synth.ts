import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from '../../lib/config.ts';
import { PROJECT_ROOT } from '../../lib/function.ts';
import { VouchChecks } from '../../lib/rules.ts';
import { VouchStack } from '../../lib/stack.ts';

/** The app's feature flags, read from cdk.json so the tests synthesize what `cdk synth` does. */
export const CDK_CONTEXT = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context as Record<
  string,
  unknown
>;

export interface Synthesized {
  readonly stack: VouchStack;
  readonly template: Template;
  readonly json: CfnTemplate;
  readonly outdir: string;
  readonly cleanup: () => void;
}

export interface CfnTemplate {
  readonly Resources: Record<string, { Type: string; Properties?: any; DependsOn?: string[] }>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

/**
 * Synthesizes the stack as bin/app.ts does, cdk-nag included (a finding throws), with real local esbuild
 * bundling unless `bundle` is false.
 */
export function synth(vouch: Record<string, unknown> = {}, options: { bundle?: boolean } = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'vouch-cdk-'));
  const context: Record<string, unknown> = { ...CDK_CONTEXT, vouch };
  // The CDK skips asset bundling for stacks not in this list (what `cdk synth --exclusively` does).
  if (options.bundle === false) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ outdir, context });
  const config = loadConfig(app.node.tryGetContext('vouch'), { baseDir: PROJECT_ROOT });
  const stack = new VouchStack(app, config.stackName, {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new VouchChecks(app));
  try {
    app.synth();
  } catch (error) {
    const report = readReport(outdir);
    rmSync(outdir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${report}`);
  }
  const json = JSON.parse(
    readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8'),
  ) as CfnTemplate;
  return {
    stack,
    json,
    template: Template.fromJSON(json as never),
    outdir,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

function readReport(outdir: string): string {
  try {
    return readFileSync(join(outdir, 'validation-report.json'), 'utf8');
  } catch {
    return '(no validation report)';
  }
}

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Sid?: string;
}

export interface FoundStatement {
  /** The resource holding the policy. */
  readonly holder: string;
  readonly holderType: string;
  /** For identity policies: the roles (logical IDs) it is attached to. */
  readonly roles: string[];
  readonly statement: Statement;
  readonly actions: string[];
}

/** Every policy statement in the template: identity, bucket, queue, topic and key policies. */
export function statements(template: CfnTemplate): FoundStatement[] {
  const found: FoundStatement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const p = resource.Properties ?? {};
    const docs: { doc: any; roles: string[] }[] = [];
    switch (resource.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        docs.push({ doc: p.PolicyDocument, roles: (p.Roles ?? []).map(refOf) });
        break;
      case 'AWS::S3::BucketPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::SNS::TopicPolicy':
        docs.push({ doc: p.PolicyDocument, roles: [] });
        break;
      case 'AWS::KMS::Key':
        docs.push({ doc: p.KeyPolicy, roles: [] });
        break;
      case 'AWS::IAM::Role':
        for (const inline of p.Policies ?? []) docs.push({ doc: inline.PolicyDocument, roles: [id] });
        docs.push({ doc: p.AssumeRolePolicyDocument, roles: [id] });
        break;
    }
    for (const { doc, roles } of docs) {
      for (const statement of doc.Statement as Statement[]) {
        found.push({
          holder: id,
          holderType: resource.Type,
          roles,
          statement,
          actions: list(statement.Action),
        });
      }
    }
  }
  return found;
}

export function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function refOf(value: unknown): string {
  return (value as { Ref?: string }).Ref ?? JSON.stringify(value);
}

/** Whether a CloudFormation value (string, Ref, Fn::GetAtt, Fn::Join) mentions a logical ID. */
export function mentions(value: unknown, logicalId: string): boolean {
  return JSON.stringify(value ?? null).includes(`"${logicalId}`);
}

/** Whether an IAM action pattern (with * and ?) matches an action, case-insensitively as IAM does. */
export function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    'i',
  );
  return regex.test(action);
}
