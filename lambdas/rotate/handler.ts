import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { documentClient, kmsClient } from '#adapters/clients.ts';
import { numberEnv, requireEnv } from '#adapters/config.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { validateRotationConfig } from '#core/rotation.ts';
import { type RotationEvent, runRotation } from './invoke.ts';
import { signingKeyPolicyFromEnv } from './key-policy.ts';
import { keyPolicyOption } from './rotate.ts';

const logger = new Logger({ serviceName: 'vouch-rotation' });
const config = validateRotationConfig({
  alias: requireEnv('VOUCH_SIGNING_KEY_ALIAS'),
  keySpec: process.env.VOUCH_KEY_SPEC ?? 'ECC_NIST_P256',
  periodDays: numberEnv('VOUCH_ROTATION_PERIOD_DAYS', 90),
  graceDays: numberEnv('VOUCH_GRACE_DAYS', 7),
  retentionDays: numberEnv('VOUCH_RETENTION_DAYS', 365),
  deletionWindowDays: numberEnv('VOUCH_DELETION_WINDOW_DAYS', 30),
});
// In AWS a signing key never gets KMS's default policy: no configured policy, no rotation.
const policy = signingKeyPolicyFromEnv(process.env, config.alias);
if (!policy) throw new Error('configuration: environment variable VOUCH_SIGNING_KEY_MANAGER is required');
const deps = {
  kms: kmsClient(),
  registry: new KeyRegistry(documentClient(), requireEnv('VOUCH_KEYS_TABLE')),
  keyPolicy: keyPolicyOption(policy),
};

/** Run by the EventBridge Scheduler schedule, and once after each deployment (bootstraps the first key). */
export const handler = (event: RotationEvent, context: Context) =>
  runRotation(deps, config, event, context, {
    logger: {
      info: (message, extra = {}) => logger.info(message, extra),
      warn: (message, extra = {}) => logger.warn(message, extra),
      error: (message, extra = {}) => logger.error(message, extra),
    },
  });
