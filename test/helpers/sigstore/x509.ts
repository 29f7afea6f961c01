import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import {
  algorithm,
  asParsed,
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  integer,
  OID,
  octetString,
  oid,
  printableString,
  sequence,
  setOf,
  time,
} from './der.ts';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
}

const spkiOf = (publicKey: KeyObject) => publicKey.export({ type: 'spki', format: 'der' });

export function p256KeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, spki: spkiOf(publicKey) };
}

export function ed25519KeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, spki: spkiOf(publicKey) };
}

/** ECDSA with SHA-256, DER signature: how every authority of the test instance signs. */
export const signSha256 = (data: Buffer, key: KeyObject) => sign('sha256', data, key);

export const pem = (der: Buffer, label = 'CERTIFICATE') =>
  `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

export interface NameSpec {
  readonly organization?: string;
  readonly commonName?: string;
}

/** An X.501 Name; Fulcio's leaf certificates have an empty one (the identity is in the SAN). */
export function distinguishedName({ organization, commonName }: NameSpec): Buffer {
  const rdns: Buffer[] = [];
  if (organization) rdns.push(setOf(sequence(oid(OID.organization), printableString(organization))));
  if (commonName) rdns.push(setOf(sequence(oid(OID.commonName), printableString(commonName))));
  return sequence(...rdns);
}

/** RFC 5280 key identifier (a hash of the key; any stable identifier will do). */
export const keyIdentifier = (spki: Buffer) => createHash('sha256').update(spki).digest().subarray(0, 20);

export interface Certificate {
  readonly der: Buffer;
  /** DER Name of the subject (the issuer name of what it signs). */
  readonly subject: Buffer;
  readonly serial: Buffer;
  readonly keyId: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A certificate with its private key: something that can issue. */
export interface Authority {
  readonly certificate: Certificate;
  readonly keys: KeyPair;
}

export const extension = (id: string, value: Buffer, critical = false) =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));

export const basicConstraints = (ca: boolean, pathLength?: number) =>
  extension(
    OID.basicConstraints,
    sequence(...(ca ? [boolean(true)] : []), ...(pathLength === undefined ? [] : [integer(pathLength)])),
    true,
  );

/** KeyUsage bits by RFC 5280 number: 0 digitalSignature, 5 keyCertSign, 6 cRLSign. */
export function keyUsage(...bits: number[]): Buffer {
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return extension(OID.keyUsage, bitString(bytes, 7 - (last & 7)), true);
}

export const extendedKeyUsage = (purpose: string, critical = false) =>
  extension(OID.extKeyUsage, sequence(oid(purpose)), critical);

export const subjectKeyIdentifier = (keyId: Buffer) =>
  extension(OID.subjectKeyIdentifier, octetString(keyId));

export const authorityKeyIdentifier = (keyId: Buffer) =>
  extension(OID.authorityKeyIdentifier, sequence(implicitPrimitive(0, keyId)));

/** SubjectAltName with an email (rfc822Name) or a URI; critical, as the subject is empty (RFC 5280). */
export const subjectAltName = (name: { email: string } | { uri: string }) =>
  extension(
    OID.subjectAltName,
    sequence(
      'email' in name
        ? implicitPrimitive(1, Buffer.from(name.email, 'ascii'))
        : implicitPrimitive(6, Buffer.from(name.uri, 'ascii')),
    ),
    true,
  );

/** A fresh positive serial number, as CAs draw them. */
export function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes;
}

export interface CertificateSpec {
  readonly subject: Buffer;
  readonly publicKey: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Buffer[];
  readonly serial?: Buffer;
}

/** The TBSCertificate of a v3 certificate issued by `issuerName`, to be signed with ECDSA/SHA-256. */
export function tbsCertificate(spec: CertificateSpec, issuerName: Buffer, serial: Buffer): Buffer {
  return sequence(
    explicit(0, integer(2)),
    integer(serial),
    algorithm(OID.ecdsaWithSha256),
    issuerName,
    sequence(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    spec.publicKey,
    ...(spec.extensions.length > 0 ? [explicit(3, sequence(...spec.extensions))] : []),
  );
}

export const signedCertificate = (tbs: Buffer, key: KeyObject) =>
  sequence(tbs, algorithm(OID.ecdsaWithSha256), bitString(signSha256(asParsed(tbs), key)));

/** Issues a certificate, signed by `issuer` or, for a root, by its own key. */
export function issue(spec: CertificateSpec, issuer: Authority | { self: KeyPair }): Certificate {
  const serial = spec.serial ?? serialNumber();
  const [issuerName, signingKey] =
    'self' in issuer
      ? [spec.subject, issuer.self.privateKey]
      : [issuer.certificate.subject, issuer.keys.privateKey];
  return {
    der: signedCertificate(tbsCertificate(spec, issuerName, serial), signingKey),
    subject: spec.subject,
    serial,
    keyId: keyIdentifier(spec.publicKey),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
  };
}

export interface AuthoritySpec {
  readonly name: NameSpec;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Issues it; a root when absent. */
  readonly issuer?: Authority;
  readonly pathLength?: number;
}

/** A CA certificate (root or intermediate) and its key. */
export function certificateAuthority(spec: AuthoritySpec): Authority {
  const keys = p256KeyPair();
  const keyId = keyIdentifier(keys.spki);
  const certificate = issue(
    {
      subject: distinguishedName(spec.name),
      publicKey: keys.spki,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      extensions: [
        keyUsage(5, 6),
        basicConstraints(true, spec.pathLength),
        subjectKeyIdentifier(keyId),
        ...(spec.issuer ? [authorityKeyIdentifier(spec.issuer.certificate.keyId)] : []),
      ],
    },
    spec.issuer ?? { self: keys },
  );
  return { certificate, keys };
}
