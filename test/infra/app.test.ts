import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/function.ts';
import { CDK_CONTEXT } from './synth.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs bin/app.ts the way the CDK CLI does (cdk.json's `app`: Node running the TypeScript itself): cdk.json's
 * context in CDK_CONTEXT_JSON, output in CDK_OUTDIR.
 */
async function app(vouch: unknown) {
  const outdir = mkdtempSync(join(tmpdir(), 'vouch-app-'));
  dirs.push(outdir);
  const context = { ...CDK_CONTEXT, vouch, 'aws:cdk:bundling-stacks': [] };
  const app = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).app as string;
  expect(app).toBe('node bin/app.ts');
  const result = await run(process.execPath, [join(PROJECT_ROOT, 'bin/app.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
  }).then(
    (r) => ({ code: 0, ...r }),
    (error) => ({
      code: error.code as number,
      stdout: error.stdout as string,
      stderr: error.stderr as string,
    }),
  );
  return { ...result, outdir };
}

describe('bin/app.ts', () => {
  // One synthesis (a child process loading aws-cdk-lib) for both: the stack takes the name the
  // configuration gives it, and every option on still passes cdk-nag. The defaults' synthesis is
  // test/infra/stack.test.ts's, through the same VouchStack and checks.
  it('synthesizes the stack named in the configuration, with every option on, cdk-nag clean', async () => {
    const result = await app({
      stackName: 'VouchEverything',
      github: {
        owner: 'acme',
        repo: 'app',
        oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
      },
      objectLock: { mode: 'COMPLIANCE', days: 30 },
      alarmEmail: 'ops@example.com',
      deployerPrincipalArns: ['arn:aws:iam::123456789012:role/deploy'],
      signerPrincipalArns: ['arn:aws:iam::123456789012:role/release'],
      reserveConcurrency: true,
      codeSigning: true,
      deletionProtection: false,
    });
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.code).toBe(0);
    const template = JSON.parse(readFileSync(join(result.outdir, 'VouchEverything.template.json'), 'utf8'));
    expect(template.Outputs.UploaderRoleArn).toBeDefined();
    const types = new Set(Object.values(template.Resources).map((r: any) => r.Type));
    for (const type of [
      'AWS::Lambda::CodeSigningConfig',
      'AWS::SNS::Subscription',
      'AWS::Logs::MetricFilter',
    ]) {
      expect(types.has(type), type).toBe(true);
    }
  });

  it('fails with the configuration error, before synthesizing anything', async () => {
    const result = await app({ graceDays: 400 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'vouch configuration: graceDays must be an integer 0..364, found number 400',
    );
  });
});
