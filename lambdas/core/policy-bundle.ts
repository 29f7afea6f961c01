import { createHash, type KeyObject } from 'node:crypto';
import { parseAttestationFile } from './attestation.ts';
import { VouchError } from './errors.ts';
import { evaluate } from './evaluate.ts';
import { keyIdOf, staticKeyLookup } from './keys.ts';
import { compilePolicy, type Policy, parsePolicyAsync } from './policy.ts';
import { createStatement, type KeyedDsseBundleJson, type SignFn, signStatement } from './sign.ts';

/**
 * A signed policy bundle: the policy file's text in an in-toto statement whose subject is the text's
 * SHA-256, with a version number, signed (DSSE, Sigstore bundle v0.3) by the policy's own KMS key.
 * The version inside the signature is what orders bundles: the store's object names and versions are
 * not trusted, so a copy of an old bundle under a new name is still the old version.
 */
export const POLICY_BUNDLE_TYPE = 'https://github.com/vouch-dev/vouch/policy/v1';
export const POLICY_SUBJECT = 'vouch-policy';
/** Largest policy bundle read: a policy is a page of YAML, not megabytes. */
export const MAX_POLICY_BUNDLE_BYTES = 1024 * 1024;
/** Versions are positive integers that fit the store's ten-digit object names. */
export const MAX_POLICY_VERSION = 9_999_999_999;

export interface PolicyBundleInfo {
  readonly version: number;
  readonly createdAt: string;
  /** `sha256:<hex>` of the policy text: the digest recorded in every decision. */
  readonly digest: string;
  /** The key that signed (its KMS ARN, from the bundle's hint). */
  readonly signedBy: string;
  readonly text: string;
}

export interface OpenedPolicyBundle extends PolicyBundleInfo {
  readonly policy: Policy;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function assertPolicyVersion(version: number, what = 'version'): void {
  if (!Number.isInteger(version) || version < 1 || version > MAX_POLICY_VERSION)
    throw new VouchError(
      'PARSE_ERROR',
      `${what} must be an integer from 1 to ${MAX_POLICY_VERSION}, found ${version}`,
    );
}

/** Signs a policy file's text as bundle `version`; the text must be a valid policy first. */
export async function signPolicyBundle(
  text: string,
  version: number,
  sign: SignFn,
  now: Date = new Date(),
  what = 'policy',
): Promise<KeyedDsseBundleJson> {
  assertPolicyVersion(version);
  await parsePolicyAsync(text, what);
  const statement = createStatement(
    [{ name: POLICY_SUBJECT, digests: { sha256: sha256(text) } }],
    POLICY_BUNDLE_TYPE,
    {
      version,
      createdAt: now.toISOString(),
      policy: text,
    },
  );
  return signStatement(statement, sign);
}

/**
 * Verifies a policy bundle against the policy key and compiles the policy it holds. Throws a VouchError
 * saying why for anything unsigned, signed by another key, altered, malformed or not a valid policy.
 */
export async function openPolicyBundle(
  content: Buffer | string,
  publicKey: KeyObject,
  what = 'policy bundle',
): Promise<OpenedPolicyBundle> {
  const size = typeof content === 'string' ? Buffer.byteLength(content) : content.length;
  if (size > MAX_POLICY_BUNDLE_BYTES)
    throw new VouchError(
      'LIMIT_EXCEEDED',
      `${what}: ${size} bytes exceeds the limit of ${MAX_POLICY_BUNDLE_BYTES}`,
    );
  const parsed = parseAttestationFile(content, what);
  const [first] = parsed.errors;
  if (first) throw new VouchError(first.code, first.message);
  const attestation = parsed.attestations[0];
  if (parsed.attestations.length !== 1 || attestation?.kind !== 'statement')
    throw new VouchError(
      'UNSUPPORTED_FORMAT',
      `${what}: not a signed policy bundle (one statement expected)`,
    );
  const { statement } = attestation;
  if (statement.predicateType !== POLICY_BUNDLE_TYPE)
    throw new VouchError(
      'UNSUPPORTED_FORMAT',
      `${what}: predicate type ${statement.predicateType}, not ${POLICY_BUNDLE_TYPE}`,
    );
  const predicate = statement.predicate ?? {};
  const { version, createdAt, policy: text } = predicate as Record<string, unknown>;
  if (typeof text !== 'string' || typeof createdAt !== 'string' || typeof version !== 'number')
    throw new VouchError(
      'PARSE_ERROR',
      `${what}: the bundle needs predicate.policy, .version and .createdAt`,
    );
  assertPolicyVersion(version, `${what}: predicate.version`);
  const hex = sha256(text);
  // The signature, checked as any attestation is: by the policy key, over a statement naming this text.
  const keyId = keyIdOf(publicKey);
  const decision = evaluate({
    artifact: { path: POLICY_SUBJECT, digests: { sha256: hex } },
    attestations: [attestation],
    policy: compilePolicy(
      {
        version: 1,
        rules: [
          { name: 'policy', match: ['**'], require: [{ type: POLICY_BUNDLE_TYPE, signers: [{ keyId }] }] },
        ],
      },
      'sha256:vouch-policy-bundle',
    ),
    keys: staticKeyLookup([{ keyId, publicKey }]),
    observedAt: new Date(),
    strict: true,
  });
  if (!decision.accepted) {
    const reason = decision.reasons[0];
    throw new VouchError(
      reason?.code === 'SUBJECT_MISMATCH' ? 'SUBJECT_MISMATCH' : 'SIGNATURE_INVALID',
      `${what}: not signed by the policy key ${keyId}: ${decision.reasons.map((r) => r.message).join('; ')}`,
    );
  }
  const policy = { ...(await parsePolicyAsync(text, `${what} (version ${version})`)), version };
  const signature = decision.attestations[0]?.signatures[0];
  const signedBy =
    attestation.signatures[0]?.verificationMaterial.content.$case === 'publicKey'
      ? attestation.signatures[0].verificationMaterial.content.publicKey.hint
      : signature?.signer?.kind === 'key'
        ? signature.signer.keyId
        : keyId;
  return { version, createdAt, digest: `sha256:${hex}`, signedBy: signedBy || keyId, text, policy };
}

/** Where the verifier gets its policy: a fixed one, or one that changes (the newest signed version). */
export interface PolicySource {
  current(): Policy;
}

export const policyOf = (policy: Policy | PolicySource): Policy =>
  'current' in policy ? policy.current() : policy;
