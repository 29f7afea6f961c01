import { ASN1Obj } from '@sigstore/core';

/**
 * Just enough DER to build certificates, timestamps and their extensions: each function returns one
 * complete TLV, so a structure reads like its ASN.1 definition.
 */

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const value = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

export const sequence = (...items: Buffer[]) => tlv(0x30, ...items);

/** SET OF, sorted by encoding as DER requires. */
export const setOf = (...items: Buffer[]) => tlv(0x31, ...[...items].sort(Buffer.compare));

export const boolean = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));

/** A non-negative INTEGER, minimally encoded. */
export function integer(value: number | bigint | Buffer): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(value)) {
    bytes = value;
  } else {
    let hex = BigInt(value).toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, 'hex');
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

export function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      base128.unshift((value & 0x7f) | 0x80);
    }
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

export const octetString = (bytes: Buffer) => tlv(0x04, bytes);

export const bitString = (bytes: Buffer, unusedBits = 0) => tlv(0x03, Buffer.from([unusedBits]), bytes);

export const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, 'utf8'));

export const printableString = (text: string) => tlv(0x13, Buffer.from(text, 'ascii'));

const digits = (date: Date) => date.toISOString().replace(/[-:T]/g, '').slice(0, 14);

export const generalizedTime = (date: Date) => tlv(0x18, Buffer.from(`${digits(date)}Z`, 'ascii'));

/** X.509 validity times: UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
export const time = (date: Date) =>
  date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${digits(date).slice(2)}Z`, 'ascii'))
    : generalizedTime(date);

/** `[n] EXPLICIT`: a constructed context-specific wrapper around complete TLVs. */
export const explicit = (tag: number, ...content: Buffer[]) => tlv(0xa0 | tag, ...content);

/** `[n] IMPLICIT` for a primitive type: the contents with the context-specific tag. */
export const implicitPrimitive = (tag: number, bytes: Buffer) => tlv(0x80 | tag, bytes);

/** `[n] IMPLICIT` for a constructed type (SET, SEQUENCE): its element encodings under the new tag. */
export const implicitConstructed = (tag: number, ...content: Buffer[]) => tlv(0xa0 | tag, ...content);

export const algorithm = (dotted: string, parameters?: Buffer) =>
  parameters ? sequence(oid(dotted), parameters) : sequence(oid(dotted));

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256: '2.16.840.1.101.3.4.2.1',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentTypeAttribute: '1.2.840.113549.1.9.3',
  messageDigestAttribute: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  sigstoreTsaPolicy: '1.3.6.1.4.1.57264.2',
} as const;

/**
 * The bytes @sigstore/core checks a signature over: it re-encodes what it parsed, and it parses the
 * contents of every OCTET STRING that happen to be valid DER. Random bytes (a key identifier, a digest)
 * that parse with a non-minimal length come back different, so a signature over our exact bytes would
 * fail there about once in 10^5. Signing what the verifier will rebuild keeps valid test material valid;
 * for all other inputs the two are the same bytes.
 */
export const asParsed = (der: Buffer): Buffer => ASN1Obj.parseBuffer(Buffer.from(der)).toDER();
