import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { awsClients } from '#adapters/clients.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { readRotationConfig } from './config.ts';
import { handleRotationRequest, type RotationRequest } from './requests.ts';

const logger = new Logger({ serviceName: 'vouch-rotation' });
const { keysTable, lines, managerArn } = readRotationConfig();
// In AWS a key never gets KMS's default policy: no configured policy, no rotation.
const unconfigured = lines.filter((line) => !line.keyPolicy).map((line) => line.id);
if (unconfigured.length > 0 || !managerArn)
  throw new Error(
    `configuration: environment variable VOUCH_SIGNING_KEY_MANAGER is required (no key policy for ${unconfigured.join(', ')})`,
  );
const clients = awsClients();
const service = {
  kms: clients.kms,
  registry: new KeyRegistry(clients.documents, keysTable),
  lines,
  managerArn,
};

/**
 * Run by the EventBridge Scheduler schedule, once after each deployment (bootstraps the first keys),
 * and by administrators (`vouch keys rotate|revoke`): the key registry's only writer.
 */
export const handler = (event: RotationRequest | null, context: Context) =>
  handleRotationRequest(service, event, context, {
    logger: {
      info: (message, extra = {}) => logger.info(message, extra),
      warn: (message, extra = {}) => logger.warn(message, extra),
      error: (message, extra = {}) => logger.error(message, extra),
    },
  });
