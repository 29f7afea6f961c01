import type { Bundle } from '@sigstore/bundle';
import {
  PolicyError,
  type SignedEntity,
  type Signer,
  toSignedEntity,
  VerificationError,
  Verifier,
} from '@sigstore/verify';
import type { Attestation } from './attestation.ts';
import { bundleMaterialProblem, logWindowProblem } from './bundle-checks.ts';
import { type CertificateClaims, certificateClaims } from './certificate-claims.ts';
import { type Reason, type ReasonCode, VouchError } from './errors.ts';
import { type KeyLookup, keyHintProblem, keyValidAt, showHint, type TrustedKey } from './keys.ts';
import { prehashedContent } from './prehashed.ts';
import {
  EMPTY_TRUST_ROOT,
  keepDer,
  type NamedTrustRoot,
  type TrustRoot,
  type TrustRootRef,
  trustRootRef,
} from './trust.ts';

/** Who signed: a registered key, or a keyless identity vouched for by a Fulcio certificate. */
export type SignerIdentity =
  | { readonly kind: 'key'; readonly keyId: string; readonly alias?: string; readonly pipeline?: string }
  | {
      readonly kind: 'keyless';
      readonly subjectAlternativeName: string;
      readonly issuer: string;
      /** What the certificate says of the build that signed (GitHub Actions: repository, ref, workflow, runner). */
      readonly claims?: CertificateClaims;
    };

export interface VerifiedSignature {
  readonly signer: SignerIdentity;
  /** Times at which the signature was trusted to exist; key validity was checked at each. */
  readonly signingTimes: readonly Date[];
  readonly timeSource: 'transparency-log' | 'timestamp-authority' | 'observed';
  /**
   * The root that verified it: a keyless signature's certificate, logs and timestamps; a keyed one's
   * log entries and timestamps (absent when it carried none).
   */
  readonly trustRoot?: TrustRootRef;
}

export interface SignatureContext {
  readonly keys: KeyLookup;
  /**
   * The roots a keyless signature may verify under, tried in order: those of the instances the signers
   * who could allow it trust. The first that verifies it is recorded.
   */
  readonly keylessRoots: readonly NamedTrustRoot[];
  /** The root against which keyed signatures' log entries and timestamps are checked. */
  readonly keyedRoot?: NamedTrustRoot;
  /** Trusted time for signatures that carry none of their own (e.g. the S3 upload time). */
  readonly observedAt: Date;
  /**
   * Keys to try, in order, when a keyed signature's hint names no key: DSSE makes `keyid` optional and
   * unauthenticated, so a missing or unknown hint is not a verdict. The caller bounds the list.
   */
  readonly candidateKeys?: readonly TrustedKey[];
}

export type SignatureResult =
  | { readonly ok: true; readonly value: VerifiedSignature }
  | { readonly ok: false; readonly error: Reason };

/**
 * Verifies one signature of an attestation with @sigstore/verify: certificate chain, SCTs, transparency
 * log inclusion and timestamps are the library's; key lookup, key validity at the trusted time, and
 * message signatures over digests are ours. Whether the attestation is about the artifact is the
 * caller's check: a signature is verified (and so attributed to a signer) on its own.
 */
export function verifySignature(
  attestation: Attestation,
  bundle: Bundle,
  context: SignatureContext,
): SignatureResult {
  const subject = attestation.source;
  try {
    const malformed = bundleMaterialProblem(bundle);
    if (malformed) throw malformed;
    let entity = toSignedEntity(bundle);
    if (attestation.kind === 'signature') {
      entity = { ...entity, signature: prehashedContent(entity, attestation) };
    }
    if (entity.key.$case !== 'public-key') return verifyKeyless(entity, context, subject);
    const hint = entity.key.hint;
    const problem = keyHintProblem(hint);
    const named = problem ? undefined : context.keys(hint);
    if (named) return verifyKeyed(entity, named, context, subject);
    // No usable hint: try the keys the policy names, as `cosign verify --key` tries the key it is given.
    let last: SignatureResult | undefined;
    for (const candidate of context.candidateKeys ?? []) {
      last = verifyKeyed(entity, candidate, context, subject);
      if (last.ok || last.error.code !== 'SIGNATURE_INVALID') return last;
    }
    const why = problem ?? `no trusted key matches key hint ${showHint(hint)}`;
    return { ok: false, error: { code: 'UNKNOWN_KEY', message: why, subject } };
  } catch (error) {
    return { ok: false, error: toSignatureReason(error, subject) };
  }
}

/**
 * A keyless signature against each root it may verify under, in turn: the first that verifies it is the
 * one recorded. When none does, the first root's reason is the verdict (naming the root when several
 * were tried).
 */
function verifyKeyless(entity: SignedEntity, context: SignatureContext, subject: string): SignatureResult {
  const [first] = context.keylessRoots;
  if (!first) {
    return {
      ok: false,
      error: {
        code: 'CERTIFICATE_INVALID',
        message:
          'no trusted root to verify its certificate: no allowed keyless signer trusts a Sigstore instance whose root is held here',
        subject,
      },
    };
  }
  let failure: Reason | undefined;
  // The leaf the library verifies (it parsed it from the bundle): its claims are the signer's.
  const leaf = entity.key.$case === 'certificate' ? entity.key.certificate : undefined;
  if (leaf) keepDer(leaf);
  for (const named of context.keylessRoots) {
    try {
      const signer = new Verifier(
        { ...named.root, publicKey: noPublicKeys },
        keylessThresholds(named.root),
      ).verify(entity);
      const { times, source } = trustedTimes(entity, context.observedAt);
      assertLogWindows(entity, named.root, times, source);
      return {
        ok: true,
        value: {
          // Claims from the leaf the library just verified: it is the certificate that signed.
          signer: keylessIdentity(signer, leaf ? certificateClaims(leaf) : {}),
          signingTimes: times,
          timeSource: source,
          trustRoot: trustRootRef(named),
        },
      };
    } catch (error) {
      failure ??= toSignatureReason(error, subject);
    }
  }
  const reason = failure as Reason;
  return context.keylessRoots.length === 1
    ? { ok: false, error: reason }
    : { ok: false, error: { ...reason, message: `${reason.message} (trusted root ${first.instance})` } };
}

/**
 * What a keyless signature needs, from what its (trusted) root lists: a log entry if the instance runs a
 * transparency log, an SCT if it runs a CT log, and always a trusted time — a short-lived certificate
 * means nothing without a time inside its window. An instance without logs (GitHub's, for private
 * repositories) thus needs an RFC 3161 timestamp from its TSA: with no trusted log, no log time verifies.
 */
function keylessThresholds(root: TrustRoot) {
  return {
    tlogThreshold: root.tlogs.length > 0 ? 1 : 0,
    ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0,
    timestampThreshold: 1,
  };
}

const noPublicKeys = (): never => {
  throw new VouchError('UNKNOWN_KEY', 'a certificate-signed bundle names no public key');
};

function verifyKeyed(
  entity: SignedEntity,
  key: TrustedKey,
  context: SignatureContext,
  subject: string,
): SignatureResult {
  try {
    const root = context.keyedRoot?.root ?? EMPTY_TRUST_ROOT;
    const verifier = new Verifier(
      {
        ...root,
        publicKey: () => ({ publicKey: key.publicKey, validFor: (date) => keyValidAt(key, date).valid }),
      },
      // A keyed envelope may carry no log entry or timestamp; its time then comes from `observedAt`.
      { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
    );
    verifier.verify(entity);
    const { times, source } = trustedTimes(entity, context.observedAt);
    assertLogWindows(entity, root, times, source);
    // With zero timestamps @sigstore/verify never calls validFor: the validity check is ours alone.
    for (const time of times) {
      const validity = keyValidAt(key, time);
      if (!validity.valid)
        return { ok: false, error: { code: validity.code, message: validity.message, subject } };
    }
    const signer: SignerIdentity = {
      kind: 'key',
      keyId: key.keyId,
      ...(key.alias ? { alias: key.alias } : {}),
      ...(key.pipeline ? { pipeline: key.pipeline } : {}),
    };
    const evidence = entity.tlogEntries.length > 0 || entity.timestamps.length > 0;
    const trustRoot = evidence && context.keyedRoot ? { trustRoot: trustRootRef(context.keyedRoot) } : {};
    return { ok: true, value: { signer, signingTimes: times, timeSource: source, ...trustRoot } };
  } catch (error) {
    return { ok: false, error: toSignatureReason(error, subject) };
  }
}

/**
 * The times at which a signature is known to have existed. A transparency log's `integratedTime` counts
 * only when its signed entry timestamp (inclusion promise) covers it — the library verified that promise
 * against the trusted log key; an inclusion proof covers the entry's body, not its time, so a proof-only
 * entry's time is whatever the uploader wrote. RFC 3161 timestamps were verified by the library. With
 * neither, the time is the one the caller observed (when S3 finished storing the attestation).
 */
function trustedTimes(entity: SignedEntity, observedAt: Date) {
  const times: Date[] = [];
  let source: VerifiedSignature['timeSource'] = 'observed';
  for (const timestamp of entity.timestamps) {
    if (timestamp.$case === 'transparency-log') {
      if (!timestamp.tlogEntry.inclusionPromise) continue;
      times.push(new Date(Number(timestamp.tlogEntry.integratedTime) * 1000));
      source = 'transparency-log';
    } else {
      times.push(timestamp.timestamp.signingTime);
      if (source === 'observed') source = 'timestamp-authority';
    }
  }
  return times.length > 0 ? { times, source } : { times: [observedAt], source };
}

function assertLogWindows(
  entity: SignedEntity,
  root: TrustRoot,
  times: readonly Date[],
  source: VerifiedSignature['timeSource'],
): void {
  const problem = logWindowProblem(entity, root, source === 'observed' ? [] : times);
  if (problem) throw problem;
}

function keylessIdentity(signer: Signer, claims: CertificateClaims): SignerIdentity {
  const subjectAlternativeName = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  if (!subjectAlternativeName || !issuer) {
    throw new VouchError(
      'CERTIFICATE_INVALID',
      'the signing certificate names no identity (SAN) or OIDC issuer',
    );
  }
  return {
    kind: 'keyless',
    subjectAlternativeName,
    issuer,
    ...(Object.keys(claims).length > 0 ? { claims } : {}),
  };
}

const LIBRARY_CODES: Record<string, ReasonCode> = {
  SIGNATURE_ERROR: 'SIGNATURE_INVALID',
  CERTIFICATE_ERROR: 'CERTIFICATE_INVALID',
  PUBLIC_KEY_ERROR: 'KEY_NOT_VALID_AT_TIME',
  TIMESTAMP_ERROR: 'TIMESTAMP_INVALID',
  TLOG_ERROR: 'TLOG_INVALID',
  TLOG_INCLUSION_PROOF_ERROR: 'TLOG_INVALID',
  TLOG_INCLUSION_PROMISE_ERROR: 'TLOG_INVALID',
  TLOG_MISSING_INCLUSION_ERROR: 'TLOG_INVALID',
  TLOG_BODY_ERROR: 'TLOG_INVALID',
  UNTRUSTED_SIGNER_ERROR: 'SIGNER_NOT_ALLOWED',
};

function toSignatureReason(error: unknown, subject: string): Reason {
  if (error instanceof VouchError) return error.toReason(subject);
  if (error instanceof VerificationError || error instanceof PolicyError) {
    return { code: LIBRARY_CODES[error.code] ?? 'SIGNATURE_INVALID', message: error.message, subject };
  }
  // Malformed material the library trips over (bad certificate DER, bad key) is still a rejection.
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'SIGNATURE_INVALID', message: `verification failed: ${message}`, subject };
}
