import type { KMSClient } from '@aws-sdk/client-kms';
import type { KeyRegistry } from '#adapters/key-registry.ts';
import { parseAdminTime } from '#core/rotation.ts';
import { KeyRequestError, type RevocationOutcome, revokeKeys, selectLines } from './admin.ts';
import type { RotationLine } from './config.ts';
import { type InvocationContext, type RotationOutcome, type RunOptions, runRotation } from './invoke.ts';
import { keyPolicyOption } from './rotate.ts';

/**
 * What the rotation function is asked, and by whom: the schedule and the post-deployment trigger rotate
 * every line; an administrator (`vouch keys rotate|revoke`, through Lambda Invoke) rotates one line or
 * revokes keys. The function is the registry's only writer: in AWS the key table refuses every other
 * principal's writes, so whatever an administrator wants of the registry comes through here.
 */
export type RotationRequest =
  | {
      readonly action?: 'rotate';
      /** `schedule` for the scheduled run; absent after a deployment or for an administrator. */
      readonly source?: string;
      readonly force?: boolean;
      readonly pipeline?: string;
      readonly vsa?: boolean;
      readonly requestedBy?: string;
    }
  | {
      readonly action: 'revoke';
      readonly keyId?: string;
      readonly pipeline?: string;
      /** ISO 8601 with a zone, or `now`. */
      readonly effective: string;
      readonly reason: string;
      readonly requestedBy?: string;
    };

export type RequestOutcome =
  | { readonly lines: Readonly<Record<string, RotationOutcome>> }
  | { readonly revocation: RevocationOutcome }
  /** A request that cannot be carried out as asked: nothing was changed. Not a function error (no alarm). */
  | { readonly refused: string };

export interface KeyService {
  readonly kms: KMSClient;
  readonly registry: KeyRegistry;
  readonly lines: readonly RotationLine[];
  /** The rotation role: recorded as the creator of each key it makes. */
  readonly managerArn?: string;
}

const MAX_REQUESTED_BY = 256;

/** Handles one invocation; a line that fails does not keep the others from rotating, and fails the run. */
export async function handleRotationRequest(
  service: KeyService,
  event: RotationRequest | null | undefined,
  context: InvocationContext,
  options: RunOptions,
  now: () => Date = () => new Date(),
): Promise<RequestOutcome> {
  const request = event ?? {};
  try {
    const requestedBy = requester(request.requestedBy);
    const createdBy = requestedBy
      ? `${requestedBy} through ${service.managerArn ?? 'the rotation function'}`
      : (service.managerArn ?? 'the rotation function');
    const rotateLine = (line: RotationLine, force: boolean, source?: string) =>
      runRotation(
        {
          kms: service.kms,
          registry: service.registry,
          now,
          createdBy,
          ...(line.keyPolicy ? { keyPolicy: keyPolicyOption(line.keyPolicy) } : {}),
        },
        line.rotation,
        { force, ...(source ? { source } : {}) },
        context,
        { ...options, logger: withLine(options.logger, line.id) },
        line.adopt ? { adopt: line.adopt } : {},
      );

    if (request.action === 'revoke') {
      let effective: Date;
      try {
        effective = parseAdminTime(String(request.effective), now());
      } catch (error) {
        throw new KeyRequestError(`effective: ${(error as Error).message}`);
      }
      const revocation = await revokeKeys(
        service.registry,
        service.lines,
        {
          ...(request.keyId !== undefined ? { keyId: String(request.keyId) } : {}),
          ...(request.pipeline !== undefined ? { pipeline: String(request.pipeline) } : {}),
          effective,
          reason: String(request.reason ?? ''),
          ...(requestedBy ? { requestedBy } : {}),
        },
        (line, force) => rotateLine(line, force),
        now(),
      );
      options.logger.info('revocation', { ...revocation, requestedBy });
      return { revocation };
    }

    const selected = selectLines(service.lines, {
      ...(request.pipeline !== undefined ? { pipeline: String(request.pipeline) } : {}),
      vsa: request.vsa === true,
    });
    const lines: Record<string, RotationOutcome> = {};
    const failures: { line: string; error: unknown }[] = [];
    for (const line of selected) {
      try {
        lines[line.id] = await rotateLine(line, request.force === true, request.source);
      } catch (error) {
        failures.push({ line: line.id, error });
        options.logger.error('rotation failed', { line: line.id, error: (error as Error).message });
      }
    }
    if (failures.length === 1) throw (failures[0] as { error: unknown }).error;
    if (failures.length > 1)
      throw new AggregateError(
        failures.map((f) => f.error),
        `rotation failed for ${failures.map((f) => f.line).join(', ')}`,
      );
    return { lines };
  } catch (error) {
    if (!(error instanceof KeyRequestError)) throw error;
    options.logger.warn('request refused', { message: error.message });
    return { refused: error.message };
  }
}

/** Who the request says asked: printable, bounded, recorded as given. */
function requester(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x20-\x7e]{1,256}$/.test(value))
    throw new KeyRequestError(`requestedBy must be 1 to ${MAX_REQUESTED_BY} printable ASCII characters`);
  return value;
}

const withLine = (logger: RunOptions['logger'], line: string): RunOptions['logger'] => ({
  info: (message, extra = {}) => logger.info(message, { line, ...extra }),
  warn: (message, extra = {}) => logger.warn(message, { line, ...extra }),
  error: (message, extra = {}) => logger.error(message, { line, ...extra }),
});
