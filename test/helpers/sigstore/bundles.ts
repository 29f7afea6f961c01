import { createHash, sign } from 'node:crypto';
import { BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { IN_TOTO_PAYLOAD_TYPE, type Statement, signPayload } from '#core/index.ts';
import type { TestKey } from '../keys.ts';
import { DEFAULT_IDENTITY, type SigningIdentity, signingCertificate } from './fulcio.ts';
import { type TestInstance, testInstance } from './instance.ts';
import { type EntryKind, type LoggedSignature, logEntry, type TlogEntryJson } from './rekor.ts';
import { timestampResponse } from './tsa.ts';
import { p256KeyPair } from './x509.ts';

/** What is signed: an in-toto statement or raw payload in a DSSE envelope, or the artifact itself. */
export type SignedContent =
  | { readonly statement: Statement }
  | { readonly payload: Buffer }
  | { readonly artifact: Buffer; readonly algorithm?: 'sha256' | 'sha512' };

export interface TlogOptions {
  /** Which of the instance's logs: `rekor` (v1, default) or `rekorV2`. */
  readonly log?: 'rekor' | 'rekorV2';
  /** Entry kind; default `dsse` for envelopes, `hashedrekord` for message signatures. */
  readonly kind?: EntryKind;
  /** A signed entry timestamp over the entry and its integrated time. Rekor v1 only; default true there. */
  readonly promise?: boolean;
  /** A Merkle inclusion proof with a signed checkpoint; default true. */
  readonly proof?: boolean;
  /** Rekor v1's integrated time; default two seconds after the signature. Rekor v2 entries have none. */
  readonly integratedTime?: Date;
  readonly logIndex?: number;
  readonly treeSize?: number;
}

export interface TimestampOptions {
  /** The time the TSA vouches for (whole seconds); default one second after the signature. */
  readonly at?: Date;
  /** Whose TSA signs; default the bundle's instance. Another instance's TSA is one the root does not trust. */
  readonly authority?: TestInstance;
  /** Timestamp these bytes instead of the bundle's signature (a token for another signature). */
  readonly over?: Buffer;
}

interface CommonOptions {
  /** Default: `testInstance()`. */
  readonly instance?: TestInstance;
  readonly content: SignedContent;
  /** Log entries; a single object for one. Default (keyless): one in the instance's first log; (keyed): none. */
  readonly tlog?: TlogOptions | readonly TlogOptions[] | false;
  /** RFC 3161 timestamps. Default (keyless): one when no entry carries a promise; (keyed): none. */
  readonly timestamps?: readonly TimestampOptions[] | false;
  /** Bundle media type: v0.1 and v0.2 carry an X.509 chain, v0.3 a single certificate. Default v0.3. */
  readonly mediaType?: 'v0.1' | 'v0.2' | 'v0.3';
}

export interface KeylessOptions extends CommonOptions {
  /** Signer identity in the certificate. Default: `DEFAULT_IDENTITY` (an email, with its OIDC issuer). */
  readonly identity?: SigningIdentity;
  /** When the certificate was issued and the signature made. Default: `DEFAULT_SIGNING_TIME`. */
  readonly signedAt?: Date;
  readonly certificate?: {
    /** Lifetime of the signing certificate; default 10 minutes, as Fulcio issues them. */
    readonly validForSeconds?: number;
    /** Default `valid` when the instance has a CT log, else `missing`. */
    readonly sct?: 'valid' | 'missing' | 'forged';
    /** A CA other than the bundle's instance's (one its root does not trust). */
    readonly issuer?: TestInstance;
  };
}

export interface KeyedOptions extends CommonOptions {
  readonly key: TestKey;
  /** The time entries and timestamps default to (keyed signatures carry no time of their own). */
  readonly signedAt?: Date;
}

/** The default signing time of every bundle: a fixed instant, so tests do not depend on the clock. */
export const DEFAULT_SIGNING_TIME = new Date('2026-06-01T12:00:00Z');

/** A Sigstore bundle in its JSON form, ready for `JSON.stringify` and `parseAttestationFile`. */
export interface BundleJson {
  mediaType: string;
  verificationMaterial: {
    certificate?: { rawBytes: string };
    x509CertificateChain?: { certificates: { rawBytes: string }[] };
    publicKey?: { hint: string };
    tlogEntries: TlogEntryJson[];
    timestampVerificationData?: { rfc3161Timestamps: { signedTimestamp: string }[] };
  };
  dsseEnvelope?: { payload: string; payloadType: string; signatures: { sig: string; keyid: string }[] };
  messageSignature?: { messageDigest: { algorithm: string; digest: string }; signature: string };
}

const MEDIA_TYPES = {
  'v0.1': BUNDLE_V01_MEDIA_TYPE,
  'v0.2': BUNDLE_V02_MEDIA_TYPE,
  'v0.3': BUNDLE_V03_MEDIA_TYPE,
};
const seconds = (date: Date, offset: number) => new Date(date.getTime() + offset * 1000);
const b64 = (bytes: Buffer) => bytes.toString('base64');

const list = <T>(value: T | readonly T[] | false | undefined, fallback: readonly T[]): readonly T[] =>
  value === false ? [] : value === undefined ? fallback : Array.isArray(value) ? value : [value as T];

function payloadOf(content: SignedContent): Buffer | undefined {
  if ('statement' in content) return Buffer.from(JSON.stringify(content.statement));
  if ('payload' in content) return content.payload;
  return undefined;
}

/** Log entries and timestamps for a signature, as the options ask; shared by keyless and keyed bundles. */
function evidence(
  instance: TestInstance,
  logged: LoggedSignature,
  signedAt: Date,
  tlogs: readonly TlogOptions[],
  timestamps: readonly TimestampOptions[],
) {
  const tlogEntries = tlogs.map((options) => {
    const log = options.log === 'rekorV2' ? instance.rekorV2 : instance.rekor;
    if (!log) throw new Error(`test instance ${instance.name} has no ${options.log ?? 'rekor'} log`);
    const v1 = log.version === 1;
    const logIndex = options.logIndex ?? 7;
    return logEntry(log, logged, {
      kind: options.kind ?? (logged.dsse ? 'dsse' : 'hashedrekord'),
      promise: options.promise ?? v1,
      proof: options.proof ?? true,
      ...(v1 ? { integratedTime: options.integratedTime ?? seconds(signedAt, 2) } : {}),
      logIndex,
      treeSize: options.treeSize ?? logIndex + 6,
    });
  });
  const tokens = timestamps.map((options) => {
    const tsa = (options.authority ?? instance).tsa;
    if (!tsa) throw new Error(`test instance ${(options.authority ?? instance).name} has no TSA`);
    return {
      signedTimestamp: b64(
        timestampResponse(tsa, options.over ?? logged.signature, options.at ?? seconds(signedAt, 1)),
      ),
    };
  });
  return {
    tlogEntries,
    ...(tokens.length > 0 ? { timestampVerificationData: { rfc3161Timestamps: tokens } } : {}),
  };
}

/**
 * A keyless bundle as a Sigstore client makes one: an ephemeral key, a signing certificate from the
 * instance's CA (with an SCT), the signature, then log entries and timestamps over it.
 */
export function keylessBundle(options: KeylessOptions): BundleJson {
  const instance = options.instance ?? testInstance();
  const issuer = options.certificate?.issuer ?? instance;
  if (!issuer.ca) throw new Error(`test instance ${issuer.name} has no CA`);
  const signedAt = options.signedAt ?? DEFAULT_SIGNING_TIME;
  const keys = p256KeyPair();
  const certificate = signingCertificate(issuer.ca.intermediate, issuer.ctlog, {
    keys,
    identity: options.identity ?? DEFAULT_IDENTITY,
    notBefore: signedAt,
    notAfter: seconds(signedAt, options.certificate?.validForSeconds ?? 600),
    sct: options.certificate?.sct ?? (issuer.ctlog ? 'valid' : 'missing'),
  });

  const payload = payloadOf(options.content);
  let logged: LoggedSignature;
  let content: Pick<BundleJson, 'dsseEnvelope' | 'messageSignature'>;
  if (payload) {
    const signature = sign('sha256', dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload), keys.privateKey);
    const envelope = {
      payload: b64(payload),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: b64(signature), keyid: '' }],
    };
    content = { dsseEnvelope: envelope };
    logged = {
      signature,
      verifier: { certificate: certificate.der },
      dsse: { payloadType: IN_TOTO_PAYLOAD_TYPE, payload, envelope },
    };
  } else {
    const { artifact, algorithm = 'sha256' } = options.content as Extract<
      SignedContent,
      { artifact: Buffer }
    >;
    const signature = sign(algorithm, artifact, keys.privateKey);
    const digest = createHash(algorithm).update(artifact).digest();
    content = {
      messageSignature: {
        messageDigest: { algorithm: algorithm === 'sha256' ? 'SHA2_256' : 'SHA2_512', digest: b64(digest) },
        signature: b64(signature),
      },
    };
    logged = { signature, verifier: { certificate: certificate.der }, message: { algorithm, digest } };
  }

  const defaultLog: TlogOptions[] = instance.rekor ? [{}] : instance.rekorV2 ? [{ log: 'rekorV2' }] : [];
  const tlogs = list(options.tlog, defaultLog);
  const promised = tlogs.some((t) => (t.log ?? 'rekor') === 'rekor' && t.promise !== false);
  const timestamps = list(options.timestamps, !promised && instance.tsa ? [{}] : []);

  const mediaType = options.mediaType ?? 'v0.3';
  const chain = [certificate.der, issuer.ca.intermediate.certificate.der];
  return {
    mediaType: MEDIA_TYPES[mediaType],
    verificationMaterial: {
      ...(mediaType === 'v0.3'
        ? { certificate: { rawBytes: b64(certificate.der) } }
        : { x509CertificateChain: { certificates: chain.map((der) => ({ rawBytes: b64(der) })) } }),
      ...evidence(instance, logged, signedAt, tlogs, timestamps),
    },
    ...content,
  };
}

/**
 * A keyed bundle (public-key hint) as `vouch sign` makes it (`signStatement`/`signPayload`), or a message
 * signature by the key; with the log entries and timestamps asked for. None by default, as `vouch sign`.
 */
export async function keyedBundle(options: KeyedOptions): Promise<BundleJson> {
  const instance = options.instance ?? testInstance();
  const signedAt = options.signedAt ?? DEFAULT_SIGNING_TIME;
  const verifier = { publicKey: options.key.publicKey.export({ type: 'spki', format: 'der' }) };
  const payload = payloadOf(options.content);
  let bundle: BundleJson;
  let logged: LoggedSignature;
  if (payload) {
    const signed = await signPayload(payload, options.key.sign);
    bundle = JSON.parse(JSON.stringify(signed)) as BundleJson;
    const envelope = signed.dsseEnvelope;
    const signature = Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64');
    logged = { signature, verifier, dsse: { payloadType: envelope.payloadType, payload, envelope } };
  } else {
    const { artifact } = options.content as Extract<SignedContent, { artifact: Buffer }>;
    const { signature, keyId } = await options.key.sign(artifact);
    const digest = createHash('sha256').update(artifact).digest();
    bundle = {
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: keyId }, tlogEntries: [] },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
        signature: b64(signature),
      },
    };
    logged = { signature, verifier, message: { algorithm: 'sha256', digest } };
  }
  const material = evidence(instance, logged, signedAt, list(options.tlog, []), list(options.timestamps, []));
  bundle.mediaType = MEDIA_TYPES[options.mediaType ?? 'v0.3'];
  bundle.verificationMaterial = { ...bundle.verificationMaterial, ...material };
  return bundle;
}
