#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config.ts';

const app = new App();
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(app.node.tryGetContext('vouch'));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
// The stack, its checks and cdk-nag are loaded once the configuration is known good: a mistake in
// cdk.json is reported in a second, not after loading every construct.
const [{ Validations }, { AwsSolutionsChecks }, { VouchChecks }, { VouchStack }] = await Promise.all([
  import('aws-cdk-lib'),
  import('cdk-nag'),
  import('../lib/rules.ts'),
  import('../lib/stack.ts'),
]);
new VouchStack(app, config.stackName, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// AWS Solutions checks and Vouch's own invariants run on every synth; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new VouchChecks(app));
app.synth();
