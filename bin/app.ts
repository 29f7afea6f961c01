#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { VouchChecks } from '../lib/rules.ts';
import { VouchStack } from '../lib/stack.ts';

const app = new App();
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(app.node.tryGetContext('vouch'));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
new VouchStack(app, config.stackName, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// AWS Solutions checks and Vouch's own invariants run on every synth; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new VouchChecks(app));
app.synth();
