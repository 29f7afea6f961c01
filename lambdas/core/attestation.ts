import { BUNDLE_V03_MEDIA_TYPE, type Bundle, bundleFromJSON } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { type DigestAlgorithm, isDigestAlgorithm } from './digest.ts';
import { decodeBase64, typeName } from './encoding.ts';
import { type Reason, VouchError } from './errors.ts';
import { isRecord, parseJson } from './json.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { IN_TOTO_PAYLOAD_TYPE, type Statement, toStatement } from './statement.ts';

/**
 * One signed claim about artifacts: an in-toto statement in a DSSE envelope, or a plain Sigstore message
 * signature over the artifact bytes. `signatures` holds one verifiable Sigstore bundle per signature, so
 * an envelope with several signatures can count toward a k-of-n threshold.
 */
export type Attestation = StatementAttestation | MessageSignatureAttestation;

interface AttestationBase {
  /** Where it came from: a file name, `name#line` for `.jsonl`, or an object key. */
  readonly source: string;
  readonly signatures: readonly Bundle[];
  /** Its line in a JSON Lines file: one of a collection, where lines about other artifacts are skipped. */
  readonly line?: number;
  /**
   * The trusted time at which it was observed (e.g. when S3 recorded its upload). Used as the signing
   * time for signatures that carry no transparency-log or RFC 3161 time of their own.
   */
  observedAt?: Date;
  /**
   * Stored beside the artifact (`KEY.sigstore.json`): what the artifact's own pipeline says about it, so
   * an allowed signer's statement there about other bytes is a verdict (the artifact was tampered with),
   * not noise.
   */
  beside?: boolean;
}

export interface StatementAttestation extends AttestationBase {
  readonly kind: 'statement';
  readonly statement: Statement;
}

export interface MessageSignatureAttestation extends AttestationBase {
  readonly kind: 'signature';
  readonly messageDigest: { readonly algorithm: DigestAlgorithm; readonly hex: string };
}

export interface ParsedFile {
  readonly attestations: Attestation[];
  /** Entries that could not be used, each with its reason; the rest of the file is still used. */
  readonly errors: Reason[];
}

const BUNDLE_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.3\+json|\+json;version=0\.[123])$/;

/**
 * Parses an attestation file: a Sigstore bundle, a DSSE envelope, or either one per line (`.intoto.jsonl`,
 * as the SLSA GitHub generator writes). The format is recognised from the content, never trusted from
 * the file name.
 */
export function parseAttestationFile(
  content: Buffer | string,
  source: string,
  limits: Limits = DEFAULT_LIMITS,
): ParsedFile {
  const size = typeof content === 'string' ? Buffer.byteLength(content) : content.length;
  if (size > limits.maxAttestationBytes) {
    return rejectFile(
      'LIMIT_EXCEEDED',
      `${source}: ${size} bytes exceeds the limit of ${limits.maxAttestationBytes}`,
    );
  }
  const text = typeof content === 'string' ? content : content.toString('utf8');
  if (text.trim() === '') return rejectFile('PARSE_ERROR', `${source}: the file is empty`);

  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 1 || !isJsonLines(lines)) {
    return collect([[source, text, undefined]], limits);
  }
  if (lines.length > limits.maxEntriesPerFile) {
    return rejectFile(
      'LIMIT_EXCEEDED',
      `${source}: ${lines.length} entries exceeds the limit of ${limits.maxEntriesPerFile}`,
    );
  }
  return collect(
    lines.map((line, index) => [`${source}#${index + 1}`, line, index + 1] as const),
    limits,
  );
}

/** JSON Lines of envelopes or bundles puts one complete object on each line; a pretty-printed document spans lines. */
function isJsonLines(lines: readonly string[]): boolean {
  try {
    return isRecord(JSON.parse(lines[0] ?? ''));
  } catch {
    return false;
  }
}

function collect(
  entries: readonly (readonly [string, string, number | undefined])[],
  limits: Limits,
): ParsedFile {
  const attestations: Attestation[] = [];
  const errors: Reason[] = [];
  for (const [source, text, line] of entries) {
    try {
      const attestation = parseEntry(parseJson(text, limits.maxJsonDepth, source), source, limits);
      attestations.push(line === undefined ? attestation : { ...attestation, line });
    } catch (error) {
      errors.push(toReason(error, source));
    }
  }
  return { attestations, errors };
}

function parseEntry(value: unknown, source: string, limits: Limits): Attestation {
  if (!isRecord(value)) {
    throw new VouchError('UNSUPPORTED_FORMAT', `${source}: expected a JSON object, found ${typeName(value)}`);
  }
  if (typeof value.mediaType === 'string') return parseBundle(value, source, limits);
  if ('payloadType' in value && 'signatures' in value) return parseEnvelope(value, source, limits);
  throw new VouchError(
    'UNSUPPORTED_FORMAT',
    `${source}: neither a Sigstore bundle (no mediaType) nor a DSSE envelope (no payloadType/signatures)`,
  );
}

function parseBundle(value: Record<string, unknown>, source: string, limits: Limits): Attestation {
  const mediaType = value.mediaType as string;
  if (!BUNDLE_MEDIA_TYPE.test(mediaType)) {
    throw new VouchError(
      'UNSUPPORTED_FORMAT',
      `${source}: unsupported bundle media type ${JSON.stringify(mediaType)}`,
    );
  }
  assertBundleBase64(value, source);
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(value);
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${source}: invalid Sigstore bundle: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const content = bundle.content;
  if (content.$case === 'messageSignature') {
    const { messageDigest } = content.messageSignature;
    const algorithm = messageDigest ? HASH_ALGORITHMS.get(messageDigest.algorithm) : undefined;
    if (!messageDigest || algorithm === undefined) {
      throw new VouchError(
        'UNSUPPORTED_FORMAT',
        `${source}: message signature without a sha256 or sha512 digest`,
      );
    }
    return {
      kind: 'signature',
      source,
      signatures: [bundle],
      messageDigest: { algorithm, hex: Buffer.from(messageDigest.digest).toString('hex') },
    };
  }
  const envelope = content.dsseEnvelope;
  if (envelope.signatures.length !== 1) {
    // The bundle format binds one signature to its verification material; more would go unchecked.
    throw new VouchError(
      'PARSE_ERROR',
      `${source}: a bundle's DSSE envelope must carry exactly one signature`,
    );
  }
  return statementAttestation(envelope.payloadType, Buffer.from(envelope.payload), [bundle], source, limits);
}

/**
 * bundleFromJSON decodes base64 with Buffer.from, which skips characters that are not base64: a mangled
 * payload or signature would decode to *something*. The fields that carry signed bytes are checked
 * strictly first, as in a bare envelope.
 */
function assertBundleBase64(value: Record<string, unknown>, source: string): void {
  const envelope = value.dsseEnvelope;
  if (envelope && typeof envelope === 'object') {
    const { payload, signatures } = envelope as { payload?: unknown; signatures?: unknown };
    decodeBase64(payload, `${source}: dsseEnvelope.payload`);
    if (Array.isArray(signatures)) {
      for (const [index, signature] of signatures.entries()) {
        decodeBase64(
          (signature as { sig?: unknown })?.sig,
          `${source}: dsseEnvelope.signatures[${index}].sig`,
        );
      }
    }
  }
  const message = value.messageSignature;
  if (message && typeof message === 'object') {
    const { signature, messageDigest } = message as {
      signature?: unknown;
      messageDigest?: { digest?: unknown };
    };
    decodeBase64(signature, `${source}: messageSignature.signature`);
    decodeBase64(messageDigest?.digest, `${source}: messageSignature.messageDigest.digest`);
  }
}

function parseEnvelope(value: Record<string, unknown>, source: string, limits: Limits): Attestation {
  const { payloadType, signatures } = value;
  if (typeof payloadType !== 'string') {
    throw new VouchError(
      'PARSE_ERROR',
      `${source}: payloadType must be a string, found ${typeName(payloadType)}`,
    );
  }
  const payload = decodeBase64(value.payload, `${source}: payload`);
  if (!Array.isArray(signatures) || signatures.length === 0) {
    throw new VouchError('PARSE_ERROR', `${source}: a DSSE envelope needs a non-empty signatures array`);
  }
  if (signatures.length > limits.maxSignatures) {
    throw new VouchError(
      'LIMIT_EXCEEDED',
      `${source}: ${signatures.length} signatures exceeds the limit of ${limits.maxSignatures}`,
    );
  }
  const bundles = signatures.map((signature, index) => {
    if (!isRecord(signature)) {
      throw new VouchError('PARSE_ERROR', `${source}: signatures[${index}] must be an object`);
    }
    const sig = decodeBase64(signature.sig, `${source}: signatures[${index}].sig`);
    const keyid = signature.keyid ?? '';
    if (typeof keyid !== 'string') {
      throw new VouchError('PARSE_ERROR', `${source}: signatures[${index}].keyid must be a string`);
    }
    // A bare envelope is a keyed bundle without log entries: the key is found through its keyid hint.
    return bundleFromJSON({
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: keyid }, tlogEntries: [] },
      dsseEnvelope: {
        payload: payload.toString('base64'),
        payloadType,
        signatures: [{ sig: sig.toString('base64'), keyid }],
      },
    });
  });
  return statementAttestation(payloadType, payload, bundles, source, limits);
}

function statementAttestation(
  payloadType: string,
  payload: Buffer,
  signatures: Bundle[],
  source: string,
  limits: Limits,
): StatementAttestation {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new VouchError(
      'UNSUPPORTED_FORMAT',
      `${source}: payloadType must be ${IN_TOTO_PAYLOAD_TYPE}, found ${JSON.stringify(payloadType)}`,
    );
  }
  const statement = toStatement(
    parseJson(payload.toString('utf8'), limits.maxJsonDepth, source),
    limits,
    source,
  );
  return { kind: 'statement', source, signatures, statement };
}

const HASH_ALGORITHMS = new Map<HashAlgorithm, DigestAlgorithm>([
  [HashAlgorithm.SHA2_256, 'sha256'],
  [HashAlgorithm.SHA2_512, 'sha512'],
]);

function rejectFile(code: Reason['code'], message: string): ParsedFile {
  return { attestations: [], errors: [{ code, message }] };
}

/**
 * Every digest attestations name, as `algorithm:hex` (lower case), for the algorithms Vouch computes:
 * what an attestation is indexed under, and what the CLI must compute of an artifact.
 */
export function subjectDigests(attestations: readonly Attestation[]): string[] {
  const digests = new Set<string>();
  for (const attestation of attestations) {
    if (attestation.kind === 'signature') {
      digests.add(`${attestation.messageDigest.algorithm}:${attestation.messageDigest.hex}`);
      continue;
    }
    for (const subject of attestation.statement.subject) {
      for (const [algorithm, hex] of Object.entries(subject.digest)) {
        if (isDigestAlgorithm(algorithm)) digests.add(`${algorithm}:${hex.toLowerCase()}`);
      }
    }
  }
  return [...digests];
}

export function toReason(error: unknown, subject?: string): Reason {
  if (error instanceof VouchError) return error.toReason(subject);
  const message = error instanceof Error ? error.message : String(error);
  return subject === undefined ? { code: 'PARSE_ERROR', message } : { code: 'PARSE_ERROR', message, subject };
}
