import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Attestation,
  attestationCopyProblems,
  compilePolicy,
  DEFAULT_LIMITS,
  type Decision,
  evaluate,
  isRegistryKeyId,
  keyIdOf,
  legacyVsaKey,
  parseAttestationFile,
  type Reason,
  readSummaryFile,
  showHint,
  staticKeyLookup,
  summaryValidUntil,
  type TrustedKey,
  toReason,
  VouchError,
  VSA_PREDICATE_TYPE,
  verificationSummaryProblems,
  vsaKey,
} from '#core/index.ts';
import { type KeyRegistry, toTrustedKey } from './key-registry.ts';
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
export const MAX_SUMMARY_BYTES = DEFAULT_LIMITS.maxBytesPerEvaluation + 16 * 1024 * 1024;

/** Only a summary written before summaries expired sits beside the artifact: refused, and said why. */
export class LegacySummary extends Error {
  constructor(key: string) {
    super(
      `${key} has only a summary from before summaries carried a validity period (${legacyVsaKey(key)}); promote the artifact again for one that does`,
    );
  }
}

/**
 * The summary key a VSA's signature names (its key hint), if trusted: from the registry (with its window
 * and revocation, checked at the time the summary was written) or a pin. Else why not.
 */
export type SummaryKeys = (hint: string) => Promise<TrustedKey | Reason>;

/**
 * Streams the object to a temporary file beside `output` while digesting it, checks the VSA against the
 * digest, and only then renames it into place. A refused download leaves nothing at `output`.
 */
export async function fetchVerified(args: {
  store: Pick<ObjectStore, 'open' | 'readSmall' | 'head'>;
  bucket: string;
  key: string;
  output: string;
  /** Summary public keys trusted outright (a PEM). */
  vsaPublicKey?: KeyObject | readonly KeyObject[];
  /** Or the summary key the VSA names, resolved (registry, pins). */
  vsaKeys?: SummaryKeys;
  allowAudit?: boolean;
  /** The time the summary's validity period is checked at. @default now */
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
    // The signed envelope, and beside it (unsigned, checked against it) copies of the attestations.
    let file: ReturnType<typeof readSummaryFile> = { envelope: '', attestations: [] };
    let parsed: ReturnType<typeof parseAttestationFile>;
    try {
      file = readSummaryFile(vsa.content, vsaKey(args.key));
      parsed = parseAttestationFile(file.envelope, vsaKey(args.key));
    } catch (error) {
      parsed = { attestations: [], errors: [toReason(error, vsaKey(args.key))] };
    }
    const { keys, refusals } = await summaryKeys(parsed.attestations, args);
    // Keys that do not verify the summary are named anyway: the decision then says which one it wanted.
    // Each once: a policy listing one key twice is refused when it compiles.
    const named = [
      ...new Set(keys.length > 0 ? keys.map((key) => key.keyId) : hintsOf(parsed.attestations).slice(0, 8)),
    ];
    const policy = compilePolicy(
      {
        version: 1,
        rules: [
          {
            name: 'vsa',
            match: ['**'],
            require: [
              {
                type: VSA_PREDICATE_TYPE,
                signers: named.length > 0 ? named.map((keyId) => ({ keyId })) : [{ keyId: 'sha256:none' }],
              },
            ],
          },
        ],
      },
      'sha256:vouch-fetch',
    );
    const decision = evaluate({
      artifact: { path: args.key, digests },
      attestations: parsed.attestations,
      inputErrors: parsed.errors,
      policy,
      keys: staticKeyLookup(keys),
      // When the summary was written, as S3 recorded it (only the promoter writes this bucket): the
      // time its key's window and revocation are checked at, never the summary's own claim.
      observedAt: vsa.version.lastModified,
      strict: true,
    });
    const attestation = parsed.attestations[0];
    const predicate = attestation?.kind === 'statement' ? attestation.statement.predicate : undefined;
    const verificationResult =
      typeof predicate?.verificationResult === 'string' ? predicate.verificationResult : undefined;
    const problems = [
      ...refusals,
      ...(attestation?.kind === 'statement'
        ? [
            ...verificationSummaryProblems(attestation.statement, {
              key: args.key,
              digests,
              allowAudit: args.allowAudit === true,
              now: args.now ?? new Date(),
            }),
            ...attestationCopyProblems(attestation.statement, args.key, file.attestations),
          ]
        : []),
    ];
    const validUntil =
      attestation?.kind === 'statement' ? summaryValidUntil(attestation.statement) : undefined;
    const ok = decision.accepted && attestation !== undefined && problems.length === 0 && keys.length > 0;
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

/** The key hints of a summary's signatures (a KMS key ARN, as the promoter's signer writes it). */
function hintsOf(attestations: readonly Attestation[]): string[] {
  return attestations.flatMap((attestation) =>
    attestation.signatures.flatMap((bundle) => {
      const material = bundle.verificationMaterial.content;
      return material.$case === 'publicKey' ? [material.publicKey.hint] : [];
    }),
  );
}

async function summaryKeys(
  attestations: readonly Attestation[],
  args: { vsaPublicKey?: KeyObject | readonly KeyObject[]; vsaKeys?: SummaryKeys },
): Promise<{ keys: TrustedKey[]; refusals: Reason[] }> {
  const outright = args.vsaPublicKey === undefined ? [] : ([args.vsaPublicKey].flat() as KeyObject[]);
  const keys: TrustedKey[] = outright.map((publicKey) => ({ keyId: keyIdOf(publicKey), publicKey }));
  const refusals: Reason[] = [];
  if (args.vsaKeys) {
    // Bounded: a summary names one key; whatever else someone wrote into it costs nothing.
    for (const hint of [...new Set(hintsOf(attestations))].slice(0, 4)) {
      const found = await args.vsaKeys(hint);
      if ('code' in found) refusals.push(found);
      else keys.push(found);
    }
  }
  return { keys, refusals };
}

/**
 * The summary (VSA) key a summary's signature names, as a deployer may trust it: held by the registry
 * as a summary key (never a pipeline's signing key: a pipeline must not vouch for a promotion), and
 * pinned when `pins` are given. Its window and revocation go with it, for the caller to check at the
 * time the summary was written. Otherwise, why not.
 */
export async function summaryKeyFor(
  registry: Pick<KeyRegistry, 'get'>,
  hint: string,
  pins: readonly string[] = [],
): Promise<TrustedKey | Reason> {
  const refuse = (message: string): Reason => ({ code: 'VERIFICATION_FAILED', message });
  if (pins.length > 0 && !pins.includes(hint))
    return refuse(`the summary is signed by ${showHint(hint)}, which is not a pinned summary key`);
  const record = isRegistryKeyId(hint) ? await registry.get(hint) : undefined;
  if (!record)
    return refuse(`the summary is signed by ${showHint(hint)}, which the key registry does not hold`);
  if (record.purpose !== 'vsa')
    return refuse(`the summary is signed by ${hint}, a pipeline's signing key, not a summary key`);
  try {
    return toTrustedKey(record);
  } catch {
    return refuse(`the key registry's record of ${hint} holds no usable public key`);
  }
}
