import { createHash, type KeyObject, sign } from 'node:crypto';
import { json } from '@sigstore/core';
import type { KeyPair } from './x509.ts';
import { pem } from './x509.ts';

/** A transparency log of the test instance: Rekor v1 (SETs, integrated time) or v2 (tiles: proofs only). */
export interface TransparencyLog {
  readonly version: 1 | 2;
  readonly keys: KeyPair;
  readonly keyDetails: 'PKIX_ECDSA_P256_SHA_256' | 'PKIX_ED25519';
  /** The ID bundles and the trusted root name the log by (v1: SHA-256 of the key; v2: the note key ID). */
  readonly logId: Buffer;
  readonly baseUrl: string;
  /** The checkpoint origin line (v1 appends the tree ID, as rekor.sigstore.dev does). */
  readonly origin: string;
  /** The signed-note key name; @sigstore/verify matches it against the trusted root's baseUrl. */
  readonly keyName: string;
}

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** c2sp.org/signed-note key IDs: Ed25519 `SHA-256(name || 0x0A || 0x01 || key)`, ECDSA `SHA-256(SPKI)`. */
export function noteKeyId(keyName: string, keys: KeyPair): Buffer {
  if (keys.publicKey.asymmetricKeyType === 'ed25519') {
    const raw = keys.spki.subarray(keys.spki.length - 32);
    return sha256(Buffer.from(`${keyName}\n`), Buffer.from([0x01]), raw);
  }
  return sha256(keys.spki);
}

const signWith = (key: KeyObject, data: Buffer) =>
  sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key);

/** What a log entry records about one signature. */
export interface LoggedSignature {
  readonly signature: Buffer;
  /** The signing certificate (keyless) or public key (keyed), DER. */
  readonly verifier: { readonly certificate: Buffer } | { readonly publicKey: Buffer };
  readonly dsse?: { readonly payloadType: string; readonly payload: Buffer; readonly envelope: unknown };
  readonly message?: { readonly algorithm: 'sha256' | 'sha512'; readonly digest: Buffer };
}

export type EntryKind = 'dsse' | 'intoto' | 'hashedrekord';

const V1_API_VERSIONS: Record<EntryKind, string> = { dsse: '0.0.1', intoto: '0.0.2', hashedrekord: '0.0.1' };

const b64 = (bytes: Buffer) => bytes.toString('base64');
const hex = (bytes: Buffer) => bytes.toString('hex');

function verifierPem(subject: LoggedSignature): string {
  return 'certificate' in subject.verifier
    ? pem(subject.verifier.certificate)
    : pem(subject.verifier.publicKey, 'PUBLIC KEY');
}

function v2Verifier(subject: LoggedSignature) {
  return {
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    ...('certificate' in subject.verifier
      ? { x509Certificate: { rawBytes: b64(subject.verifier.certificate) } }
      : { publicKey: { rawBytes: b64(subject.verifier.publicKey) } }),
  };
}

/** The entry body as Rekor stores it, for each supported kind and log version. */
export function entryBody(
  kind: EntryKind,
  version: 1 | 2,
  subject: LoggedSignature,
): Record<string, unknown> {
  const { dsse, message } = subject;
  if (kind === 'hashedrekord') {
    if (!message) throw new Error('a hashedrekord entry records a message signature');
    if (version === 2) {
      return {
        apiVersion: '0.0.2',
        kind,
        spec: {
          hashedRekordV002: {
            data: {
              algorithm: message.algorithm === 'sha256' ? 'SHA2_256' : 'SHA2_512',
              digest: b64(message.digest),
            },
            signature: { content: b64(subject.signature), verifier: v2Verifier(subject) },
          },
        },
      };
    }
    return {
      apiVersion: V1_API_VERSIONS.hashedrekord,
      kind,
      spec: {
        data: { hash: { algorithm: message.algorithm, value: hex(message.digest) } },
        signature: {
          content: b64(subject.signature),
          publicKey: { content: b64(Buffer.from(verifierPem(subject))) },
        },
      },
    };
  }
  if (!dsse) throw new Error(`a ${kind} entry records a DSSE envelope`);
  const payloadHash = sha256(dsse.payload);
  const envelopeHash = sha256(Buffer.from(json.canonicalize(dsse.envelope)));
  if (kind === 'intoto') {
    if (version === 2) throw new Error('Rekor v2 has no intoto kind');
    return {
      apiVersion: V1_API_VERSIONS.intoto,
      kind,
      spec: {
        content: {
          envelope: {
            payloadType: dsse.payloadType,
            // intoto 0.0.2 stores the envelope's base64 signature base64-encoded again.
            signatures: [
              {
                publicKey: b64(Buffer.from(verifierPem(subject))),
                sig: b64(Buffer.from(b64(subject.signature))),
              },
            ],
          },
          hash: { algorithm: 'sha256', value: hex(envelopeHash) },
          payloadHash: { algorithm: 'sha256', value: hex(payloadHash) },
        },
      },
    };
  }
  if (version === 2) {
    return {
      apiVersion: '0.0.2',
      kind,
      spec: {
        dsseV002: {
          payloadHash: { algorithm: 'SHA2_256', digest: b64(payloadHash) },
          signatures: [{ content: b64(subject.signature), verifier: v2Verifier(subject) }],
        },
      },
    };
  }
  return {
    apiVersion: V1_API_VERSIONS.dsse,
    kind,
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(envelopeHash) },
      payloadHash: { algorithm: 'sha256', value: hex(payloadHash) },
      signatures: [{ signature: b64(subject.signature), verifier: b64(Buffer.from(verifierPem(subject))) }],
    },
  };
}

// RFC 6962 Merkle tree hashing.
const leafHash = (data: Buffer) => sha256(Buffer.from([0x00]), data);
const nodeHash = (left: Buffer, right: Buffer) => sha256(Buffer.from([0x01]), left, right);
const split = (size: number) => 2 ** Math.floor(Math.log2(size - 1));

function treeHash(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0] as Buffer;
  const k = split(leaves.length);
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

/** The audit path of leaf `index`, deepest sibling first (RFC 6962 §2.1.1). */
function auditPath(index: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return index < k
    ? [...auditPath(index, leaves.slice(0, k)), treeHash(leaves.slice(k))]
    : [...auditPath(index - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

export interface EntryOptions {
  readonly kind: EntryKind;
  /** A signed entry timestamp over the entry and its integrated time (Rekor v1 only). */
  readonly promise: boolean;
  /** A Merkle inclusion proof with a checkpoint signed by the log. */
  readonly proof: boolean;
  /** Rekor v1's integration time; Rekor v2 entries have none. */
  readonly integratedTime?: Date;
  readonly logIndex: number;
  readonly treeSize: number;
}

/** A `TransparencyLogEntry` as bundles carry it (protobuf JSON). */
export interface TlogEntryJson {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime?: string;
  inclusionPromise?: { signedEntryTimestamp: string };
  inclusionProof?: {
    logIndex: string;
    rootHash: string;
    treeSize: string;
    hashes: string[];
    checkpoint: { envelope: string };
  };
  canonicalizedBody: string;
}

/** A signed note (c2sp.org/tlog-checkpoint) over the tree head, as the log's checkpoint. */
export function checkpoint(
  log: TransparencyLog,
  treeSize: number,
  rootHash: Buffer,
  extraLines: string[] = [],
) {
  const note = `${[log.origin, String(treeSize), b64(rootHash), ...extraLines].join('\n')}\n`;
  const signature = signWith(log.keys.privateKey, Buffer.from(note));
  const keyHint = noteKeyId(log.keyName, log.keys).subarray(0, 4);
  return `${note}\n\u2014 ${log.keyName} ${b64(Buffer.concat([keyHint, signature]))}\n`;
}

/** Logs `subject` in `log`: its body, and the promise and/or proof asked for. */
export function logEntry(
  log: TransparencyLog,
  subject: LoggedSignature,
  options: EntryOptions,
): TlogEntryJson {
  if (log.version === 2 && (options.promise || options.integratedTime)) {
    throw new Error('Rekor v2 entries carry neither an inclusion promise nor an integrated time');
  }
  const body = Buffer.from(json.canonicalize(entryBody(options.kind, log.version, subject)));
  const integratedTime =
    options.integratedTime === undefined ? undefined : Math.floor(options.integratedTime.getTime() / 1000);
  const entry: TlogEntryJson = {
    logIndex: String(options.logIndex),
    logId: { keyId: b64(log.logId) },
    kindVersion: { kind: options.kind, version: log.version === 2 ? '0.0.2' : V1_API_VERSIONS[options.kind] },
    ...(integratedTime === undefined ? {} : { integratedTime: String(integratedTime) }),
    canonicalizedBody: b64(body),
  };
  if (options.promise) {
    if (integratedTime === undefined) throw new Error('an inclusion promise signs an integrated time');
    const payload = json.canonicalize({
      body: b64(body),
      integratedTime,
      logIndex: options.logIndex,
      logID: hex(log.logId),
    });
    entry.inclusionPromise = {
      signedEntryTimestamp: b64(signWith(log.keys.privateKey, Buffer.from(payload))),
    };
  }
  if (options.proof) {
    if (options.logIndex >= options.treeSize) throw new Error('the entry must be inside the tree');
    // The other leaves are stand-ins: only their hashes matter to a proof.
    const leaves = Array.from({ length: options.treeSize }, (_, i) =>
      i === options.logIndex ? leafHash(body) : leafHash(Buffer.from(`${log.origin} entry ${i}`)),
    );
    const root = treeHash(leaves);
    const extra =
      log.version === 1 && integratedTime !== undefined ? [`Timestamp: ${integratedTime}000000000`] : [];
    entry.inclusionProof = {
      logIndex: String(options.logIndex),
      rootHash: b64(root),
      treeSize: String(options.treeSize),
      hashes: auditPath(options.logIndex, leaves).map(b64),
      checkpoint: { envelope: checkpoint(log, options.treeSize, root, extra) },
    };
  }
  return entry;
}
