import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  attestationCopyProblems,
  compilePolicy,
  DEFAULT_LIMITS,
  type Decision,
  evaluate,
  keyIdOf,
  legacyVsaKey,
  parseAttestationFile,
  type Reason,
  readSummaryFile,
  staticKeyLookup,
  summaryValidUntil,
  toReason,
  VouchError,
  VSA_PREDICATE_TYPE,
  verificationSummaryProblems,
  vsaKey,
} from '#core/index.ts';
import { isMissing, type ObjectStore } from './s3-store.ts';

/**
 * The deployer's check, as `vouch fetch` and the local stack's demo run it: the artifact's bytes from the
 * deployment bucket, accepted only if its verification summary is signed by the VSA key and names them.
 */
export interface FetchResult {
  readonly ok: boolean;
  readonly digest: string;
  readonly decision: Decision;
  /** What the summary says that this fetch cannot accept: another key, other bytes, FAILED. */
  readonly problems: readonly Reason[];
  readonly verificationResult?: string;
  /** When the summary stops vouching for the artifact. */
  readonly validUntil?: string;
}

/** A summary and its evidence: the summary itself, and copies of what it rests on, in one object. */
const MAX_SUMMARY_BYTES = DEFAULT_LIMITS.maxBytesPerEvaluation + 16 * 1024 * 1024;

/** Only a summary written before summaries expired sits beside the artifact: refused, and said why. */
export class LegacySummary extends Error {
  constructor(key: string) {
    super(
      `${key} has only a summary from before summaries carried a validity period (${legacyVsaKey(key)}); promote the artifact again for one that does`,
    );
  }
}

/**
 * Streams the object to a temporary file beside `output` while digesting it, checks the VSA against the
 * digest, and only then renames it into place. A refused download leaves nothing at `output`.
 */
export async function fetchVerified(args: {
  store: Pick<ObjectStore, 'open' | 'readSmall' | 'head'>;
  bucket: string;
  key: string;
  output: string;
  vsaPublicKey: KeyObject;
  allowAudit?: boolean;
  now?: Date;
}): Promise<FetchResult> {
  let vsa: Awaited<ReturnType<ObjectStore['readSmall']>>;
  try {
    vsa = await args.store.readSmall(args.bucket, vsaKey(args.key), MAX_SUMMARY_BYTES);
  } catch (error) {
    if (isMissing(error) && (await args.store.head(args.bucket, legacyVsaKey(args.key))))
      throw new LegacySummary(args.key);
    throw error;
  }
  if ('tooLarge' in vsa)
    throw new VouchError('LIMIT_EXCEEDED', `${vsaKey(args.key)} is too large to be a verification summary`);
  const temporary = join(dirname(args.output), `.${randomUUID()}.vouch-partial`);
  const hash = createHash('sha256');
  try {
    const { body } = await args.store.open(args.bucket, args.key);
    const digesting = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(body, digesting, createWriteStream(temporary, { mode: 0o600 }));
    const digests = { sha256: hash.digest('hex') };
    const keyId = keyIdOf(args.vsaPublicKey);
    const policy = compilePolicy(
      {
        version: 1,
        rules: [
          { name: 'vsa', match: ['**'], require: [{ type: VSA_PREDICATE_TYPE, signers: [{ keyId }] }] },
        ],
      },
      'sha256:vouch-fetch',
    );
    let file: ReturnType<typeof readSummaryFile> = { envelope: '', attestations: [] };
    let parsed: ReturnType<typeof parseAttestationFile>;
    try {
      file = readSummaryFile(vsa.content, vsaKey(args.key));
      parsed = parseAttestationFile(file.envelope, vsaKey(args.key));
    } catch (error) {
      parsed = { attestations: [], errors: [toReason(error, vsaKey(args.key))] };
    }
    const decision = evaluate({
      artifact: { path: args.key, digests },
      attestations: parsed.attestations,
      inputErrors: parsed.errors,
      policy,
      keys: staticKeyLookup([{ keyId, publicKey: args.vsaPublicKey }]),
      observedAt: new Date(),
      strict: true,
    });
    const attestation = parsed.attestations[0];
    const predicate = attestation?.kind === 'statement' ? attestation.statement.predicate : undefined;
    const verificationResult =
      typeof predicate?.verificationResult === 'string' ? predicate.verificationResult : undefined;
    const problems =
      attestation?.kind === 'statement'
        ? [
            ...verificationSummaryProblems(attestation.statement, {
              key: args.key,
              digests,
              allowAudit: args.allowAudit === true,
              now: args.now ?? new Date(),
            }),
            ...attestationCopyProblems(attestation.statement, args.key, file.attestations),
          ]
        : [];
    const validUntil =
      attestation?.kind === 'statement' ? summaryValidUntil(attestation.statement) : undefined;
    const ok = decision.accepted && attestation !== undefined && problems.length === 0;
    if (ok) await rename(temporary, args.output);
    return {
      ok,
      digest: `sha256:${digests.sha256}`,
      decision,
      problems,
      ...(verificationResult ? { verificationResult } : {}),
      ...(validUntil ? { validUntil } : {}),
    };
  } finally {
    await rm(temporary, { force: true });
  }
}
