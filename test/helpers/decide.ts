import { createHash } from 'node:crypto';
import {
  compilePolicy,
  createStatement,
  type Decision,
  evaluate,
  type PolicySpec,
  parseAttestationFile,
  type SignerSpec,
  staticKeyLookup,
  type TrustedKey,
  type TrustRoot,
  type TrustRootSet,
} from '#core/index.ts';
import { type BundleJson, DEFAULT_IDENTITY, testInstance } from './sigstore/index.ts';

/** The artifact the self-made bundles are about, and its digests. */
export const ARTIFACT = Buffer.from('vouch test artifact: app.tar.gz\n');
export const ARTIFACT_DIGESTS = {
  sha256: createHash('sha256').update(ARTIFACT).digest('hex'),
  sha512: createHash('sha512').update(ARTIFACT).digest('hex'),
};
export const PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const IDENTITY = 'signer@vouch.test';
export const ISSUER = DEFAULT_IDENTITY.issuer as string;

/** An in-toto statement naming `bytes` (default: ARTIFACT) by sha256. */
export const statementAbout = (bytes: Buffer = ARTIFACT, predicateType = PROVENANCE_V1) =>
  createStatement(
    [{ name: 'app.tar.gz', digests: { sha256: createHash('sha256').update(bytes).digest('hex') } }],
    predicateType,
    {},
  );

type Requirement = PolicySpec['rules'][number]['require'][number];

/** A one-rule policy: every object key needs `type` signed by `threshold` (default 1) of `signers`. */
export const policyFor = (
  signers: (string | SignerSpec)[],
  type: Requirement['type'] = PROVENANCE_V1,
  threshold?: number,
) =>
  compilePolicy(
    {
      version: 1,
      rules: [
        { name: 'all', match: ['**'], require: [{ type, signers, ...(threshold ? { threshold } : {}) }] },
      ],
    },
    'sha256:test',
  );

/** The default keyless signer of the test instance. */
export const KEYLESS_SIGNER = policyFor([{ issuer: ISSUER, identity: IDENTITY }]);

export interface DecideOptions {
  readonly policy?: ReturnType<typeof policyFor>;
  readonly trustRoot?: TrustRoot | TrustRootSet;
  readonly keys?: readonly TrustedKey[];
  readonly observedAt?: Date;
  readonly digests?: Record<string, string>;
}

/**
 * Parses and evaluates bundles the way `vouch verify` does (strict: each must verify), against the
 * default test instance's root unless told otherwise.
 */
export function decide(
  bundles: BundleJson | string | readonly (BundleJson | string)[],
  options: DecideOptions = {},
): Decision {
  const files = Array.isArray(bundles) ? bundles : [bundles];
  const parsed = files.map((file, i) =>
    parseAttestationFile(typeof file === 'string' ? file : JSON.stringify(file), `bundle${i}.sigstore.json`),
  );
  return evaluate({
    artifact: { path: 'releases/app.tar.gz', digests: options.digests ?? ARTIFACT_DIGESTS },
    attestations: parsed.flatMap((p) => p.attestations),
    inputErrors: parsed.flatMap((p) => p.errors),
    policy: options.policy ?? KEYLESS_SIGNER,
    keys: staticKeyLookup(options.keys ?? []),
    trustRoot: options.trustRoot ?? testInstance().trustRoot,
    observedAt: options.observedAt ?? new Date('2026-06-01T13:00:00Z'),
    strict: true,
  });
}

export const codes = (decision: Decision) => decision.reasons.map((reason) => reason.code);

/** What verifying the first signature of the first attestation said. */
export const firstSignature = (decision: Decision) => decision.attestations[0]?.signatures[0];

/** A deep copy of a bundle, changed: what an attacker (or a broken client) would upload. */
export function tampered(bundle: BundleJson, change: (copy: Record<string, any>) => void): string {
  const copy = JSON.parse(JSON.stringify(bundle)) as Record<string, any>;
  change(copy);
  return JSON.stringify(copy);
}

/** Flips one bit near the end of base64 data (inside a DER signature, past its headers). */
export function flipBase64(value: string, fromEnd = 1): string {
  const bytes = Buffer.from(value, 'base64');
  const at = bytes.length - fromEnd;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}
