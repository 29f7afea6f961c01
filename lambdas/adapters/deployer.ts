import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  compilePolicy,
  type Decision,
  evaluate,
  keyIdOf,
  parseAttestationFile,
  type Reason,
  staticKeyLookup,
  VouchError,
  VSA_PREDICATE_TYPE,
  verificationSummaryProblems,
  vsaKey,
} from '#core/index.ts';
import type { ObjectStore } from './s3-store.ts';

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
}

/**
 * Streams the object to a temporary file beside `output` while digesting it, checks the VSA against the
 * digest, and only then renames it into place. A refused download leaves nothing at `output`.
 */
export async function fetchVerified(args: {
  store: Pick<ObjectStore, 'open' | 'readSmall'>;
  bucket: string;
  key: string;
  output: string;
  vsaPublicKey: KeyObject;
  allowAudit?: boolean;
}): Promise<FetchResult> {
  const vsa = await args.store.readSmall(args.bucket, vsaKey(args.key), 1024 * 1024);
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
    const parsed = parseAttestationFile(vsa.content, vsaKey(args.key));
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
        ? verificationSummaryProblems(attestation.statement, {
            key: args.key,
            digests,
            allowAudit: args.allowAudit === true,
          })
        : [];
    const ok = decision.accepted && attestation !== undefined && problems.length === 0;
    if (ok) await rename(temporary, args.output);
    return {
      ok,
      digest: `sha256:${digests.sha256}`,
      decision,
      problems,
      ...(verificationResult ? { verificationResult } : {}),
    };
  } finally {
    await rm(temporary, { force: true });
  }
}
