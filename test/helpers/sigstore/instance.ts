import { createHash } from 'node:crypto';
import { type TrustRoot, trustRootFromJson } from '#core/index.ts';
import { OID } from './der.ts';
import type { CtLog } from './fulcio.ts';
import { noteKeyId, type TransparencyLog } from './rekor.ts';
import type { TimestampAuthority } from './tsa.ts';
import {
  type Authority,
  authorityKeyIdentifier,
  certificateAuthority,
  distinguishedName,
  ed25519KeyPair,
  extendedKeyUsage,
  issue,
  keyIdentifier,
  keyUsage,
  p256KeyPair,
  subjectKeyIdentifier,
} from './x509.ts';

/** A validity window in a trusted root. `start: null` leaves the (required) start out, as a malformed root would. */
export interface ValidFor {
  readonly start?: Date | null;
  readonly end?: Date;
}

export interface InstanceOptions {
  /** Names the instance's hosts and keys; instances with different names trust nothing of each other. */
  readonly name?: string;
  /** The Fulcio-like CA: a root and an intermediate that issues signing certificates. */
  readonly ca?: false | { readonly validFor?: ValidFor };
  /** A Rekor v1 log (ECDSA P-256): signed entry timestamps, integrated times, checkpoints. */
  readonly rekor?: false | { readonly validFor?: ValidFor };
  /** A Rekor v2 (tiles) log with its own origin: checkpoints only, no integrated time. */
  readonly rekorV2?: false | { readonly keyType?: 'ed25519' | 'p256'; readonly validFor?: ValidFor };
  /** A CT log whose SCTs Fulcio embeds in signing certificates. */
  readonly ctlog?: false | { readonly validFor?: ValidFor };
  /** An RFC 3161 timestamp authority (signing certificate and root). */
  readonly tsa?: false | { readonly validFor?: ValidFor };
}

/** Like GitHub's own instance (private repositories): a CA and a TSA, no transparency or CT log. */
export const GITHUB_LIKE: InstanceOptions = {
  name: 'github-like',
  rekor: false,
  rekorV2: false,
  ctlog: false,
};

/** When the instance's authorities came to be; their certificates last until 2045. */
export const INSTANCE_EPOCH = new Date('2020-01-01T00:00:00Z');
const INSTANCE_END = new Date('2045-01-01T00:00:00Z');

export interface TrustedRootJson {
  mediaType: string;
  tlogs: Record<string, any>[];
  certificateAuthorities: Record<string, any>[];
  ctlogs: Record<string, any>[];
  timestampAuthorities: Record<string, any>[];
}

/** A self-contained Sigstore instance, generated in memory: its authorities' keys and its trusted root. */
export interface TestInstance {
  readonly name: string;
  readonly ca?: { readonly root: Authority; readonly intermediate: Authority };
  readonly rekor?: TransparencyLog;
  readonly rekorV2?: TransparencyLog;
  readonly ctlog?: CtLog;
  readonly tsa?: TimestampAuthority;
  /** `trusted_root.json` (media type `application/vnd.dev.sigstore.trustedroot+json;version=0.1`). */
  readonly trustedRoot: TrustedRootJson;
  /** The same root as Vouch loads it (`trustRootFromJson`); throws for a root Vouch refuses. */
  readonly trustRoot: TrustRoot;
}

const b64 = (bytes: Buffer) => bytes.toString('base64');

function validFor(window: ValidFor | undefined) {
  const start = window?.start === undefined ? INSTANCE_EPOCH : window.start;
  return {
    ...(start === null ? {} : { start: start.toISOString() }),
    ...(window?.end ? { end: window.end.toISOString() } : {}),
  };
}

const logKey = (keys: { spki: Buffer }, details: string, window?: ValidFor) => ({
  rawBytes: b64(keys.spki),
  keyDetails: details,
  validFor: validFor(window),
});

interface Authorities {
  readonly ca: { readonly root: Authority; readonly intermediate: Authority };
  readonly rekor: TransparencyLog;
  /** The Rekor v2 log, with an Ed25519 key (as Sigstore's) or a P-256 one. */
  readonly rekorV2: Record<'ed25519' | 'p256', TransparencyLog>;
  readonly ctlog: CtLog;
  readonly tsa: TimestampAuthority;
}

/** Every authority an instance named `name` can have; which of them its root trusts is the options' choice. */
function createAuthorities(name: string): Authorities {
  const host = `${name}.test`;
  const era = { notBefore: INSTANCE_EPOCH, notAfter: INSTANCE_END };

  const root = certificateAuthority({ name: { organization: host, commonName: `${name}-root` }, ...era });
  const intermediate = certificateAuthority({
    name: { organization: host, commonName: `${name}-intermediate` },
    issuer: root,
    pathLength: 0,
    ...era,
  });

  const transparencyLog = (version: 1 | 2, keyType: 'ed25519' | 'p256'): TransparencyLog => {
    const keys = keyType === 'ed25519' ? ed25519KeyPair() : p256KeyPair();
    const keyName = version === 1 ? `rekor.${host}` : `log2025-1.rekor.${host}`;
    return {
      version,
      keys,
      keyDetails: keyType === 'ed25519' ? 'PKIX_ED25519' : 'PKIX_ECDSA_P256_SHA_256',
      logId: version === 1 ? createHash('sha256').update(keys.spki).digest() : noteKeyId(keyName, keys),
      baseUrl: `https://${keyName}`,
      // Rekor v1 shards name their tree in the origin; v2 logs are named by their URL alone.
      origin: version === 1 ? `${keyName} - 1193050959916656506` : keyName,
      keyName,
    };
  };

  const ctKeys = p256KeyPair();
  const ctlog = {
    keys: ctKeys,
    logId: createHash('sha256').update(ctKeys.spki).digest(),
    baseUrl: `https://ctfe.${host}`,
  };

  const tsaRoot = certificateAuthority({
    name: { organization: host, commonName: `${name}-tsa-root` },
    ...era,
  });
  const tsaKeys = p256KeyPair();
  const tsaCertificate = issue(
    {
      subject: distinguishedName({ organization: host, commonName: `${name}-tsa` }),
      publicKey: tsaKeys.spki,
      ...era,
      extensions: [
        keyUsage(0),
        subjectKeyIdentifier(keyIdentifier(tsaKeys.spki)),
        authorityKeyIdentifier(tsaRoot.certificate.keyId),
        extendedKeyUsage(OID.timeStamping, true),
      ],
    },
    tsaRoot,
  );

  return {
    ca: { root, intermediate },
    rekor: transparencyLog(1, 'p256'),
    rekorV2: { ed25519: transparencyLog(2, 'ed25519'), p256: transparencyLog(2, 'p256') },
    ctlog,
    tsa: { root: tsaRoot, signer: { certificate: tsaCertificate, keys: tsaKeys } },
  };
}

const authorities = new Map<string, Authorities>();

function createInstance(options: InstanceOptions): TestInstance {
  const name = options.name ?? 'vouch-test';
  const host = `${name}.test`;
  let all = authorities.get(name);
  if (!all) {
    all = createAuthorities(name);
    authorities.set(name, all);
  }
  const ca = options.ca === false ? undefined : all.ca;
  const rekor = options.rekor === false ? undefined : all.rekor;
  const rekorV2 = options.rekorV2 === false ? undefined : all.rekorV2[options.rekorV2?.keyType ?? 'ed25519'];
  const ctlog = options.ctlog === false ? undefined : all.ctlog;
  const tsa = options.tsa === false ? undefined : all.tsa;

  const trustedRoot: TrustedRootJson = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [rekor, rekorV2].flatMap((log) => {
      if (!log) return [];
      const window = log.version === 1 ? options.rekor : options.rekorV2;
      return [
        {
          baseUrl: log.baseUrl,
          hashAlgorithm: 'SHA2_256',
          publicKey: logKey(log.keys, log.keyDetails, window ? window.validFor : undefined),
          logId: { keyId: b64(log.logId) },
        },
      ];
    }),
    certificateAuthorities: ca
      ? [
          {
            subject: { organization: host, commonName: `${name}-root` },
            uri: `https://fulcio.${host}`,
            certChain: {
              certificates: [ca.intermediate, ca.root].map((a) => ({ rawBytes: b64(a.certificate.der) })),
            },
            validFor: validFor(options.ca ? options.ca.validFor : undefined),
          },
        ]
      : [],
    ctlogs: ctlog
      ? [
          {
            baseUrl: ctlog.baseUrl,
            hashAlgorithm: 'SHA2_256',
            publicKey: logKey(
              ctlog.keys,
              'PKIX_ECDSA_P256_SHA_256',
              options.ctlog ? options.ctlog.validFor : undefined,
            ),
            logId: { keyId: b64(ctlog.logId) },
          },
        ]
      : [],
    timestampAuthorities: tsa
      ? [
          {
            subject: { organization: host, commonName: `${name}-tsa` },
            uri: `https://timestamp.${host}/api/v1/timestamp`,
            certChain: {
              certificates: [tsa.signer, tsa.root].map((a) => ({ rawBytes: b64(a.certificate.der) })),
            },
            validFor: validFor(options.tsa ? options.tsa.validFor : undefined),
          },
        ]
      : [],
  };

  let loaded: TrustRoot | undefined;
  return {
    name,
    ...(ca ? { ca } : {}),
    ...(rekor ? { rekor } : {}),
    ...(rekorV2 ? { rekorV2 } : {}),
    ...(ctlog ? { ctlog } : {}),
    ...(tsa ? { tsa } : {}),
    trustedRoot,
    // Loaded when first asked for: a malformed root (`start: null`) is still a root one can write out.
    get trustRoot() {
      loaded ??= trustRootFromJson(trustedRoot, `test instance ${name}`);
      return loaded;
    },
  };
}

const instances = new Map<string, TestInstance>();

/**
 * The test instance for `options`, created once per process. Instances of the same name share their keys
 * (options only choose what the root trusts, and in which windows), so a bundle made under one root can
 * be verified under a variant of it; instances of different names share nothing.
 */
export function testInstance(options: InstanceOptions = {}): TestInstance {
  const key = JSON.stringify(options);
  let instance = instances.get(key);
  if (!instance) {
    instance = createInstance(options);
    instances.set(key, instance);
  }
  return instance;
}
