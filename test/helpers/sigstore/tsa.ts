import { createHash, randomBytes } from 'node:crypto';
import {
  algorithm,
  asParsed,
  explicit,
  generalizedTime,
  implicitConstructed,
  integer,
  OID,
  octetString,
  oid,
  sequence,
  setOf,
  tlv,
} from './der.ts';
import { type Authority, signSha256 } from './x509.ts';

/** A timestamp authority: its signing certificate (EKU timeStamping) and the root that issued it. */
export interface TimestampAuthority {
  readonly root: Authority;
  readonly signer: Authority;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

const attribute = (type: string, value: Buffer) => sequence(oid(type), setOf(value));

/**
 * An RFC 3161 TimeStampResp granting a token over `signature` at `at` (whole seconds): what a bundle's
 * `rfc3161Timestamps[].signedTimestamp` holds. The token is CMS SignedData with the TSTInfo as content,
 * signed attributes (content type, message digest, signing certificate) and the signer identified by
 * issuer and serial number.
 */
export function timestampResponse(tsa: TimestampAuthority, signature: Buffer, at: Date): Buffer {
  const tstInfo = sequence(
    integer(1),
    oid(OID.sigstoreTsaPolicy),
    sequence(algorithm(OID.sha256), octetString(sha256(signature))),
    integer(randomBytes(16)),
    generalizedTime(at),
  );
  const attributes = [
    attribute(OID.contentTypeAttribute, oid(OID.tstInfo)),
    attribute(OID.messageDigestAttribute, octetString(sha256(asParsed(tstInfo)))),
    attribute(
      OID.signingCertificateV2,
      sequence(sequence(sequence(octetString(sha256(tsa.signer.certificate.der))))),
    ),
  ].sort(Buffer.compare);
  // The signature covers the attributes encoded as a SET; the SignerInfo carries them as [0] IMPLICIT.
  const signedAttributes = tlv(0x31, ...attributes);
  const signerInfo = sequence(
    integer(1),
    sequence(tsa.root.certificate.subject, integer(tsa.signer.certificate.serial)),
    algorithm(OID.sha256),
    implicitConstructed(0, ...attributes),
    algorithm(OID.ecdsaWithSha256),
    octetString(signSha256(asParsed(signedAttributes), tsa.signer.keys.privateKey)),
  );
  const signedData = sequence(
    integer(3),
    setOf(algorithm(OID.sha256)),
    sequence(oid(OID.tstInfo), explicit(0, octetString(tstInfo))),
    implicitConstructed(0, tsa.signer.certificate.der),
    setOf(signerInfo),
  );
  return sequence(sequence(integer(0)), sequence(oid(OID.signedData), explicit(0, signedData)));
}
