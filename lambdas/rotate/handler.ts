import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { awsClients } from '#adapters/clients.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { readRotationConfig } from './config.ts';
import { type RotationEvent, runRotation } from './invoke.ts';
import { keyPolicyOption } from './rotate.ts';

const logger = new Logger({ serviceName: 'vouch-rotation' });
const { keysTable, rotation: config, keyPolicy } = readRotationConfig();
// In AWS a signing key never gets KMS's default policy: no configured policy, no rotation.
if (!keyPolicy) throw new Error('configuration: environment variable VOUCH_SIGNING_KEY_MANAGER is required');
const clients = awsClients();
const deps = {
  kms: clients.kms,
  registry: new KeyRegistry(clients.documents, keysTable),
  keyPolicy: keyPolicyOption(keyPolicy),
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
