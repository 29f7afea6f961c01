import type { KeyRecord, KeyRegistry } from '#adapters/key-registry.ts';
import { isRegistryKeyId } from '#core/keys.ts';
import { pipelineLine, type RotationLine, VSA_LINE } from './config.ts';
import type { RotationOutcome } from './invoke.ts';

/**
 * What an administrator asks of the key registry, whoever carries it out (the rotation function in
 * AWS, where no one else may write the registry; `vouch keys` against the local stack): rotate lines,
 * revoke a key, revoke a pipeline. The registry's own rules (the effective time only moves earlier,
 * every change a conditional write) apply either way.
 */

/** A request that cannot be carried out as asked (an unknown key or pipeline): refused, not retried. */
export class KeyRequestError extends Error {
  override readonly name = 'KeyRequestError';
}

/** Which lines a request is about: one pipeline's, the summary keys', or (neither named) every line. */
export function selectLines(
  lines: readonly RotationLine[],
  which: { readonly pipeline?: string; readonly vsa?: boolean },
): RotationLine[] {
  if (which.pipeline !== undefined && which.vsa)
    throw new KeyRequestError('name a pipeline or the summary keys, not both');
  if (which.pipeline !== undefined) {
    const line = lines.find((l) => l.id === pipelineLine(which.pipeline as string));
    if (!line)
      throw new KeyRequestError(`no pipeline ${which.pipeline}; configured: ${pipelineNames(lines)}`);
    return [line];
  }
  if (which.vsa) {
    const line = lines.find((l) => l.id === VSA_LINE);
    if (!line) throw new KeyRequestError('no summary (VSA) key line is configured');
    return [line];
  }
  return [...lines];
}

const pipelineNames = (lines: readonly RotationLine[]) =>
  lines.flatMap((l) => l.rotation.pipeline ?? []).join(', ') || '(none)';

export interface RevocationRequest {
  /** One key, by its KMS key ARN. */
  readonly keyId?: string;
  /** Or every key of a pipeline: the pipeline is also suspended (no new key until a forced rotation). */
  readonly pipeline?: string;
  readonly effective: Date;
  readonly reason: string;
  /** Who asked, as the request says: recorded with each revocation. */
  readonly requestedBy?: string;
}

export interface RevocationOutcome {
  readonly revoked: readonly string[];
  /** Already revoked from an earlier time: the effective time only moves earlier. */
  readonly unchanged: readonly string[];
  /** The pipeline now suspended, when a whole pipeline was revoked. */
  readonly suspended?: string;
  /** The line's rotation run after it: the revoked keys disabled in KMS, a new key if the active one went. */
  readonly rotation?: RotationOutcome;
}

/** Runs one line's rotation; `force` rotates now (and lifts a suspension). */
export type RotateLine = (line: RotationLine, force: boolean) => Promise<RotationOutcome>;

const MAX_REASON = 1024;

/**
 * Revokes one key, or every key of a pipeline, from `effective` on, then runs the line's rotation: the
 * revoked keys are disabled in KMS at once, and a revoked active key is replaced (a forced rotation) so
 * the pipeline signs with a new key, unless the whole pipeline was revoked: it is suspended instead.
 */
export async function revokeKeys(
  registry: KeyRegistry,
  lines: readonly RotationLine[],
  request: RevocationRequest,
  rotateLine: RotateLine,
  now: Date,
): Promise<RevocationOutcome> {
  if ((request.keyId === undefined) === (request.pipeline === undefined))
    throw new KeyRequestError('name one key (its KMS key ARN) or one pipeline to revoke');
  const reason = request.reason.trim();
  if (reason === '' || reason.length > MAX_REASON)
    throw new KeyRequestError(`the reason must be 1 to ${MAX_REASON} characters`);
  const revoked: string[] = [];
  const unchanged: string[] = [];
  const revoke = async (key: KeyRecord) => {
    const outcome = await registry.revoke(key.keyId, request.effective, reason, request.requestedBy);
    (outcome === 'revoked' ? revoked : unchanged).push(key.keyId);
  };

  if (request.keyId !== undefined) {
    if (!isRegistryKeyId(request.keyId)) throw new KeyRequestError(`${request.keyId} is not a KMS key ARN`);
    const key = await registry.get(request.keyId);
    if (!key) throw new KeyRequestError(`no key ${request.keyId} in the registry`);
    await revoke(key);
    const line = lines.find((l) => l.rotation.alias === key.alias);
    if (!line) return { revoked, unchanged };
    // The active key gone, the line needs another now; a suspended line waits for its admin.
    const suspended = (await registry.lease(line.rotation.alias))?.suspendedAt !== undefined;
    const replace = key.status === 'active' && revoked.length > 0 && !suspended;
    return { revoked, unchanged, rotation: await rotateLine(line, replace) };
  }

  const [line] = selectLines(lines, { pipeline: request.pipeline as string });
  const alias = (line as RotationLine).rotation.alias;
  for (const key of (await registry.list()).filter((k) => k.alias === alias)) await revoke(key);
  // Suspended before the rotation runs: no run, scheduled or not, gives the pipeline a new key now.
  await registry.suspend(alias, now, request.requestedBy);
  return {
    revoked,
    unchanged,
    suspended: request.pipeline as string,
    rotation: await rotateLine(line as RotationLine, false),
  };
}
