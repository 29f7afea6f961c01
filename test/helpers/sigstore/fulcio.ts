import { createHash } from 'node:crypto';
import { asParsed, OID, octetString, utf8String } from './der.ts';
import {
  type Authority,
  authorityKeyIdentifier,
  type Certificate,
  extendedKeyUsage,
  extension,
  issue,
  type KeyPair,
  keyIdentifier,
  keyUsage,
  p256KeyPair,
  serialNumber,
  signedCertificate,
  signSha256,
  subjectAltName,
  subjectKeyIdentifier,
  tbsCertificate,
} from './x509.ts';

/** Claims Fulcio copies from a GitHub Actions OIDC token into certificate extensions (1.3.6.1.4.1.57264.1.*). */
export interface GithubWorkflowClaims {
  readonly buildSignerUri?: string;
  readonly buildSignerDigest?: string;
  readonly runnerEnvironment?: string;
  readonly sourceRepositoryUri?: string;
  readonly sourceRepositoryDigest?: string;
  readonly sourceRepositoryRef?: string;
  readonly sourceRepositoryIdentifier?: string;
  readonly sourceRepositoryOwnerUri?: string;
  readonly sourceRepositoryOwnerIdentifier?: string;
  readonly buildConfigUri?: string;
  readonly buildConfigDigest?: string;
  readonly buildTrigger?: string;
  readonly runInvocationUri?: string;
  readonly sourceRepositoryVisibility?: string;
}

/**
 * Fulcio's OIDs: .1.1–.1.6 hold raw strings (deprecated), .1.8 and later DER UTF8Strings. Written out
 * here again on purpose, not imported from lambdas/core/certificate-claims.ts: the test CA encodes from
 * Fulcio's spec, so a wrong OID in the reader fails the tests instead of agreeing with itself.
 */
const FULCIO = '1.3.6.1.4.1.57264.1';
const GITHUB_OIDS: Record<keyof GithubWorkflowClaims, number> = {
  buildSignerUri: 9,
  buildSignerDigest: 10,
  runnerEnvironment: 11,
  sourceRepositoryUri: 12,
  sourceRepositoryDigest: 13,
  sourceRepositoryRef: 14,
  sourceRepositoryIdentifier: 15,
  sourceRepositoryOwnerUri: 16,
  sourceRepositoryOwnerIdentifier: 17,
  buildConfigUri: 18,
  buildConfigDigest: 19,
  buildTrigger: 20,
  runInvocationUri: 21,
  sourceRepositoryVisibility: 22,
};

export interface SigningIdentity {
  /** The certificate's SubjectAltName: what a policy's `identity` matches. */
  readonly san: { readonly email: string } | { readonly uri: string };
  /** The OIDC issuer; omit for a certificate that names none. */
  readonly issuer?: string;
  /**
   * Which issuer extensions to write: `both` (as Fulcio does: .1.8 and the deprecated .1.1), `current`
   * (.1.8 only) or `legacy` (.1.1 only, as certificates issued before 2023 have).
   */
  readonly issuerEncoding?: 'both' | 'current' | 'legacy';
  readonly github?: GithubWorkflowClaims;
}

export const DEFAULT_IDENTITY: SigningIdentity = {
  san: { email: 'signer@vouch.test' },
  issuer: 'https://oauth2.vouch.test/auth',
};

function identityExtensions(identity: SigningIdentity): Buffer[] {
  const extensions = [subjectAltName(identity.san)];
  const encoding = identity.issuerEncoding ?? 'both';
  if (identity.issuer !== undefined) {
    if (encoding !== 'current')
      extensions.push(extension(`${FULCIO}.1`, Buffer.from(identity.issuer, 'utf8')));
    if (encoding !== 'legacy') extensions.push(extension(`${FULCIO}.8`, utf8String(identity.issuer)));
  }
  for (const [claim, arc] of Object.entries(GITHUB_OIDS)) {
    const value = identity.github?.[claim as keyof GithubWorkflowClaims];
    if (value !== undefined) extensions.push(extension(`${FULCIO}.${arc}`, utf8String(value)));
  }
  return extensions;
}

/** A CT log of the test instance: RFC 6962 log ID is the SHA-256 of its public key. */
export interface CtLog {
  readonly keys: KeyPair;
  readonly logId: Buffer;
  readonly baseUrl: string;
}

const uint = (value: number | bigint, bytes: number) => {
  const out = Buffer.alloc(bytes);
  let rest = BigInt(value);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
};

/**
 * An RFC 6962 SignedCertificateTimestamp for a precertificate: the log signs the issuer's key hash and
 * the TBSCertificate without the SCT list, which is what a verifier rebuilds from the final certificate.
 */
export function precertificateSct(
  signer: KeyPair,
  logId: Buffer,
  issuerSpki: Buffer,
  precertTbs: Buffer,
  at: Date,
): Buffer {
  const timestamp = uint(at.getTime(), 8);
  const signedTbs = asParsed(precertTbs);
  const signed = Buffer.concat([
    Buffer.from([0, 0]), // v1, certificate_timestamp
    timestamp,
    uint(1, 2), // precert_entry
    createHash('sha256').update(issuerSpki).digest(),
    uint(signedTbs.length, 3),
    signedTbs,
    uint(0, 2), // no extensions
  ]);
  const signature = signSha256(signed, signer.privateKey);
  return Buffer.concat([
    Buffer.from([0]),
    logId,
    timestamp,
    uint(0, 2),
    Buffer.from([4, 3]), // sha256, ecdsa
    uint(signature.length, 2),
    signature,
  ]);
}

const sctListExtension = (scts: readonly Buffer[]) => {
  const items = scts.map((sct) => Buffer.concat([uint(sct.length, 2), sct]));
  const list = Buffer.concat(items);
  return extension(OID.sctList, octetString(Buffer.concat([uint(list.length, 2), list])));
};

export interface LeafSpec {
  readonly keys: KeyPair;
  readonly identity: SigningIdentity;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /**
   * `valid`: an SCT from the instance's CT log, as Fulcio embeds; `missing`: none; `forged`: one that
   * names the instance's CT log but is signed by another key.
   */
  readonly sct: 'valid' | 'missing' | 'forged';
}

/** A Fulcio-style code-signing certificate: empty subject, identity in the SAN, OIDC claims as extensions. */
export function signingCertificate(ca: Authority, ctlog: CtLog | undefined, spec: LeafSpec): Certificate {
  const extensions = [
    keyUsage(0),
    extendedKeyUsage(OID.codeSigning),
    subjectKeyIdentifier(keyIdentifier(spec.keys.spki)),
    authorityKeyIdentifier(ca.certificate.keyId),
    ...identityExtensions(spec.identity),
  ];
  const base = {
    subject: Buffer.from([0x30, 0x00]),
    publicKey: spec.keys.spki,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    serial: serialNumber(),
  };
  if (spec.sct === 'missing') return issue({ ...base, extensions }, ca);
  if (!ctlog) throw new Error('this test instance has no CT log to issue an SCT');
  const signer = spec.sct === 'valid' ? ctlog.keys : p256KeyPair();
  const precert = tbsCertificate({ ...base, extensions }, ca.certificate.subject, base.serial);
  const sct = precertificateSct(signer, ctlog.logId, ca.keys.spki, precert, spec.notBefore);
  const tbs = tbsCertificate(
    { ...base, extensions: [...extensions, sctListExtension([sct])] },
    ca.certificate.subject,
    base.serial,
  );
  return {
    der: signedCertificate(tbs, ca.keys.privateKey),
    subject: base.subject,
    serial: base.serial,
    keyId: keyIdentifier(spec.keys.spki),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
  };
}
