import type { Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import type { Attestation } from './attestation.ts';
import { certificateClaims } from './certificate-claims.ts';
import type { Reason } from './errors.ts';
import type { SignerIdentity } from './signatures.ts';
import type { AllowedSigner } from './signers.ts';
import type { NamedTrustRoot, TrustRootSet } from './trust.ts';

export type KeylessIdentity = Extract<SignerIdentity, { kind: 'keyless' }>;

const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

// Read once per parsed bundle (the pre-screen, then the choice of roots): a bundle object is never
// changed once parsed, and these live only as long as it does.
const leaves = new WeakMap<Bundle, X509Certificate | undefined>();
const identities = new WeakMap<Bundle, KeylessIdentity | undefined>();

const once = <T>(memo: WeakMap<Bundle, T>, bundle: Bundle, read: (bundle: Bundle) => T): T => {
  if (memo.has(bundle)) return memo.get(bundle) as T;
  const value = read(bundle);
  memo.set(bundle, value);
  return value;
};

/** The leaf certificate of a keyless bundle, as @sigstore/verify reads it; undefined for keyed bundles. */
export const leafCertificate = (bundle: Bundle): X509Certificate | undefined =>
  once(leaves, bundle, parseLeaf);

function parseLeaf(bundle: Bundle): X509Certificate | undefined {
  const content = bundle.verificationMaterial.content;
  const raw =
    content.$case === 'certificate'
      ? content.certificate.rawBytes
      : content.$case === 'x509CertificateChain'
        ? content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  if (!raw) return undefined;
  try {
    return X509Certificate.parse(Buffer.from(raw));
  } catch {
    // Unparseable: let the verifier say why.
    return undefined;
  }
}

/**
 * The identity (and CI claims) a bundle's leaf certificate claims, unverified: for the pre-screen, which
 * may skip a bundle nobody could allow, never accept one. Undefined when it is not keyless or names no
 * SAN or issuer.
 */
export const certificateIdentity = (bundle: Bundle): KeylessIdentity | undefined =>
  once(identities, bundle, readIdentity);

function readIdentity(bundle: Bundle): KeylessIdentity | undefined {
  const certificate = leafCertificate(bundle);
  if (!certificate) return undefined;
  try {
    const v2 = certificate.extension(OID_FULCIO_ISSUER_V2);
    const issuer = v2
      ? v2.valueObj.subs?.[0]?.value.toString('ascii')
      : certificate.extension(OID_FULCIO_ISSUER_V1)?.value.toString('ascii');
    const subjectAlternativeName = certificate.subjectAltName;
    if (!issuer || !subjectAlternativeName) return undefined;
    const claims = certificateClaims(certificate);
    return {
      kind: 'keyless',
      issuer,
      subjectAlternativeName,
      ...(Object.keys(claims).length > 0 ? { claims } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * For a keyless attestation, the reason no applicable signer could allow its certificates' identities,
 * read from the leaves without verifying anything; undefined when one could (or it is not keyless). A
 * certificate chain, SCTs and a log entry are the expensive part: not for an identity nobody accepts.
 */
export function keylessSignerNobodyAllows(
  attestation: Attestation,
  signers: readonly AllowedSigner[],
  describe: (signer: SignerIdentity) => string,
): Reason | undefined {
  const identities = attestation.signatures.map(certificateIdentity);
  if (identities.some((identity) => identity === undefined)) return undefined;
  const allowed = identities.some((identity) =>
    signers.some((signer) => signer.allows(identity as KeylessIdentity, {})),
  );
  if (allowed) return undefined;
  const first = identities[0] as KeylessIdentity;
  const why = signers.map((signer) => signer.explain?.(first, {})).find(Boolean);
  return {
    code: 'SIGNER_NOT_ALLOWED',
    message: why
      ? `signed by ${describe(first)}, but its certificate's ${why}; not verified`
      : `signed by ${describe(first)}, whom no applicable rule allows; not verified`,
    subject: attestation.source,
  };
}

/**
 * The roots a keyless bundle may verify under: those of the instances trusted by the signers who could
 * allow its certificate's identity (by every keyless signer's, when the identity cannot be read), in the
 * order the policy names them. A certificate is never checked against an instance no such signer trusts.
 */
export function keylessRootsFor(
  bundle: Bundle,
  signers: readonly AllowedSigner[],
  roots: TrustRootSet,
): NamedTrustRoot[] {
  const identity = certificateIdentity(bundle);
  const instances = new Set<string>();
  for (const signer of signers) {
    if (!signer.instances) continue;
    if (identity && !signer.allows(identity, {})) continue;
    for (const instance of signer.instances) instances.add(instance);
  }
  return [...instances].flatMap((instance) => roots.get(instance) ?? []);
}
