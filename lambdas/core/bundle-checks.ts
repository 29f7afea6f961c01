import type { Bundle } from '@sigstore/bundle';
import type { SignedEntity } from '@sigstore/verify';
import { VouchError } from './errors.ts';
import type { TrustRoot } from './trust.ts';

/**
 * An inclusion proof without a checkpoint ties the entry to no signed tree head. Bundles v0.2 and later
 * require the checkpoint; a v0.1 bundle may leave it out, and @sigstore/verify 4.x then fails with a
 * TypeError instead of a verdict. Checked before the library runs.
 */
export function bundleMaterialProblem(bundle: Bundle): VouchError | undefined {
  for (const [index, entry] of bundle.verificationMaterial.tlogEntries.entries()) {
    if (entry.inclusionProof && !entry.inclusionProof.checkpoint?.envelope) {
      return new VouchError(
        'TLOG_INVALID',
        `transparency log entry ${index} has an inclusion proof without a checkpoint: no signed tree head vouches for its root hash`,
      );
    }
  }
  return undefined;
}

/**
 * A log entry proven only by an inclusion proof is checked by @sigstore/verify 4.x against the log's key
 * whatever that key's validity window in the trusted root (only a signed entry timestamp is filtered by
 * it). A retired shard's key must not vouch for signatures made after its window, nor a new key for
 * signatures before it: every entry without a promise needs a log of its ID whose window holds every
 * verified time of the signature (RFC 3161 or promised log times). With none (a keyed signature timed by
 * its upload), there is no verified time to hold it against.
 */
export function logWindowProblem(
  entity: SignedEntity,
  root: TrustRoot,
  verifiedTimes: readonly Date[],
): VouchError | undefined {
  if (verifiedTimes.length === 0) return undefined;
  for (const entry of entity.tlogEntries) {
    if (entry.inclusionPromise) continue;
    const logs = root.tlogs.filter((log) => log.logID.equals(entry.logId.keyId));
    const inWindow = logs.some((log) =>
      verifiedTimes.every((time) => log.validFor.start <= time && time <= log.validFor.end),
    );
    if (!inWindow) {
      const window = logs[0]
        ? `its key is trusted from ${logs[0].validFor.start.toISOString()} to ${logs[0].validFor.end.toISOString()}`
        : 'the trusted root has no such log';
      return new VouchError(
        'TLOG_INVALID',
        `the log ${logs[0]?.baseURL ?? entry.logId.keyId.toString('base64')} did not vouch for a signature made at ${verifiedTimes.map((t) => t.toISOString()).join(', ')}: ${window}`,
      );
    }
  }
  return undefined;
}
