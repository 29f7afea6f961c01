import { createHash } from 'node:crypto';

/**
 * Names Vouch writes in the deployment bucket, used by the promoter, `vouch fetch` and the local stack.
 * Object keys are capped at `maxPathBytes` (960) so these fit within S3's 1,024 bytes.
 */

/** The verification summary (VSA) beside a promoted artifact. */
export const vsaKey = (objectKey: string) => `${objectKey}.vsa.sigstore.json`;

export const attestationCopyPrefix = (objectKey: string) => `${objectKey}.attestations/`;

/**
 * Where an input attestation's copy goes: named by the SHA-256 of its content, so no upload, whatever
 * its name, can overwrite another's copy, and the name says exactly which bytes it holds.
 */
export const attestationCopyKey = (objectKey: string, content: Buffer) =>
  `${attestationCopyPrefix(objectKey)}${createHash('sha256').update(content).digest('hex')}.json`;

/** Where the promoter streams an unversioned artifact before it is moved into place (deployment bucket). */
export const INCOMING_PREFIX = '.vouch/incoming/';
