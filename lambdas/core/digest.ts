import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { VouchError } from './errors.ts';

export const DIGEST_ALGORITHMS = ['sha256', 'sha512'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** Lowercase hex digests of one artifact, by algorithm. At least one is present. */
export type Digests = Partial<Record<DigestAlgorithm, string>>;

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export const isDigestAlgorithm = (name: string): name is DigestAlgorithm =>
  (DIGEST_ALGORITHMS as readonly string[]).includes(name);

/** Parses `sha256:<hex>` / `sha512:<hex>`. */
export function parseDigest(text: string): Digests {
  const match = /^(sha256|sha512):([0-9a-fA-F]+)$/.exec(text.trim());
  const algorithm = match?.[1];
  const hex = match?.[2];
  if (algorithm === undefined || hex === undefined || !isDigestAlgorithm(algorithm)) {
    throw new VouchError(
      'INVALID_DIGEST',
      `expected sha256:<hex> or sha512:<hex>, found ${JSON.stringify(text)}`,
    );
  }
  if (hex.length !== HEX_LENGTH[algorithm]) {
    throw new VouchError(
      'INVALID_DIGEST',
      `${algorithm} digest must be ${HEX_LENGTH[algorithm]} hex characters, found ${hex.length}`,
    );
  }
  return { [algorithm]: hex.toLowerCase() };
}

/** The canonical `algorithm:hex` form, strongest first: the key under which attestations are indexed. */
export function formatDigests(digests: Digests): string[] {
  return DIGEST_ALGORITHMS.flatMap((algorithm) => {
    const hex = digests[algorithm];
    return hex === undefined ? [] : [`${algorithm}:${hex}`];
  });
}

/** Primary display form: sha256 when known. */
export function primaryDigest(digests: Digests): string {
  const [first] = formatDigests(digests);
  if (first === undefined) throw new VouchError('INVALID_DIGEST', 'no digest was computed');
  return first;
}

/**
 * Does an in-toto subject digest set name this artifact? Every supported algorithm both sides know must
 * agree, and at least one must be shared: a subject whose sha256 matches but whose sha512 does not is
 * a forgery attempt, not a match.
 */
export function digestsMatch(artifact: Digests, subject: Readonly<Record<string, string>>): boolean {
  let shared = 0;
  for (const algorithm of DIGEST_ALGORITHMS) {
    const ours = artifact[algorithm];
    const theirs = subject[algorithm];
    if (ours === undefined || theirs === undefined) continue;
    if (ours !== theirs.toLowerCase()) return false;
    shared++;
  }
  return shared > 0;
}

/** The bytes every DSSE pre-authentication encoding starts with. */
const PAE_PREFIX = Buffer.from('DSSEv1 ');

/** What digesting an artifact learns: its digests, its size, and whether it is shaped like a DSSE PAE. */
export interface DigestResult {
  readonly digests: Digests;
  readonly size: number;
  /**
   * The bytes start as a DSSE pre-authentication encoding does. A message signature over such bytes is
   * the same primitive as an envelope's signature, so the two could stand in for each other: refused.
   */
  readonly paeShaped: boolean;
}

/** One digest pass: every requested hash, the size, and the first bytes, fed chunk by chunk. */
export class Digester {
  private readonly hashes: (readonly [DigestAlgorithm, ReturnType<typeof createHash>])[];
  private size = 0;
  private head = Buffer.alloc(0);

  constructor(algorithms: readonly DigestAlgorithm[] = ['sha256']) {
    if (algorithms.length === 0) throw new VouchError('INVALID_DIGEST', 'no digest algorithm requested');
    this.hashes = algorithms.map((algorithm) => [algorithm, createHash(algorithm)] as const);
  }

  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    if (this.head.length < PAE_PREFIX.length)
      this.head = Buffer.concat([this.head, chunk.subarray(0, PAE_PREFIX.length - this.head.length)]);
    for (const [, hash] of this.hashes) hash.update(chunk);
  }

  result(): DigestResult {
    const digests: Digests = {};
    for (const [algorithm, hash] of this.hashes) digests[algorithm] = hash.digest('hex');
    return { digests, size: this.size, paeShaped: this.head.equals(PAE_PREFIX) };
  }
}

/**
 * Digests a stream in constant memory: chunks are hashed as they arrive and never retained. Compute only
 * the algorithms the caller needs (sha512 costs about three times sha256 where the CPU has SHA extensions).
 */
export async function digestStream(
  stream: Readable | AsyncIterable<Uint8Array>,
  algorithms: readonly DigestAlgorithm[] = ['sha256'],
): Promise<DigestResult> {
  const digester = new Digester(algorithms);
  for await (const chunk of stream) digester.update(chunk);
  return digester.result();
}

const FILE_CHUNK_BYTES = 1024 * 1024;

/**
 * Digests a file with two reused 1 MiB buffers: the next read runs in libuv's pool while this chunk is
 * hashed, so disk and CPU overlap, and nothing is allocated per chunk. Memory stays at 2 MiB whatever
 * the file size.
 */
export async function digestFile(
  path: string,
  algorithms: readonly DigestAlgorithm[] = ['sha256'],
): Promise<DigestResult> {
  const digester = new Digester(algorithms);
  const file = await open(path, 'r');
  try {
    let reading = Buffer.allocUnsafe(FILE_CHUNK_BYTES);
    let hashing = Buffer.allocUnsafe(FILE_CHUNK_BYTES);
    let pending = file.read(reading, 0, FILE_CHUNK_BYTES, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      [reading, hashing] = [hashing, reading];
      pending = file.read(reading, 0, FILE_CHUNK_BYTES, null);
      digester.update(hashing.subarray(0, bytesRead));
    }
    return digester.result();
  } finally {
    await file.close();
  }
}
