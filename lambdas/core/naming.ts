/**
 * Names Vouch writes in the deployment bucket, used by the promoter, `vouch fetch` and the local stack.
 * Object keys are capped at `maxPathBytes` (960) so these fit within S3's 1,024 bytes.
 */

/**
 * The verification summary (VSA) beside a promoted artifact: a DSSE envelope (what slsa-verifier's
 * verify-vsa reads) with the copies of the attestations it rests on.
 */
export const vsaKey = (objectKey: string) => `${objectKey}.vsa.dsse.json`;

/**
 * Where summaries were written before they carried a validity period (a Sigstore bundle per artifact):
 * never written now; a pull removes one left by an earlier version, and `vouch fetch` names it.
 */
export const legacyVsaKey = (objectKey: string) => `${objectKey}.vsa.sigstore.json`;
