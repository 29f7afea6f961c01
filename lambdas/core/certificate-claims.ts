import type { X509Certificate } from '@sigstore/core';
import picomatch from 'picomatch';
import { VouchError } from './errors.ts';
import { hasControlOrBackslash, INVISIBLE } from './paths.ts';

/**
 * What Fulcio copies from a CI provider's OIDC token into a signing certificate (OIDs
 * 1.3.6.1.4.1.57264.1.9–.22, DER UTF8Strings): for GitHub Actions, the repository, ref and commit built,
 * the workflow that signed and the runner it ran on. Read from the leaf certificate; they mean something
 * only once the certificate has been verified.
 */
export interface CertificateClaims {
  /** .9: the workflow that signed, e.g. `https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1`. */
  readonly buildSignerUri?: string;
  readonly buildSignerDigest?: string;
  /** .11: `github-hosted` or `self-hosted`. */
  readonly runnerEnvironment?: string;
  /** .12: e.g. `https://github.com/o/r`. */
  readonly sourceRepositoryUri?: string;
  /** .13: the commit built. */
  readonly sourceRepositoryDigest?: string;
  /** .14: e.g. `refs/tags/v1.2.0`. */
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

const FULCIO = '1.3.6.1.4.1.57264.1';
const CLAIM_OIDS: Record<keyof CertificateClaims, number> = {
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
/** Longest claim read, as for strings read from a predicate; a longer one is left out (and so matches nothing). */
const MAX_CLAIM_LENGTH = 2048;
const UTF8_STRING = 0x0c;

export function certificateClaims(certificate: X509Certificate): CertificateClaims {
  const claims: Record<string, string> = {};
  for (const [name, arc] of Object.entries(CLAIM_OIDS)) {
    const inner = certificate.extension(`${FULCIO}.${arc}`)?.valueObj.subs?.[0];
    if (!inner || inner.tag.number !== UTF8_STRING || inner.value.length > MAX_CLAIM_LENGTH) continue;
    claims[name] = inner.value.toString('utf8');
  }
  return claims;
}

/** What a keyless signer entry may require of a certificate's claims, as `gh attestation verify` can. */
export interface ClaimRequirements {
  /** Exactly this source repository (`.12`), e.g. `https://github.com/acme/app`. */
  readonly sourceRepository?: string;
  /** A glob on the source ref (`.14`), e.g. `refs/tags/v*`. */
  readonly sourceRef?: string;
  /** Exactly this commit (`.13`). */
  readonly sourceDigest?: string;
  /** A glob on the signing workflow's URI (`.9`), e.g. `https://github.com/acme/app/.github/workflows/release.yml@refs/tags/*`. */
  readonly signerWorkflow?: string;
  /** Exactly this runner environment (`.11`): `github-hosted` refuses self-hosted runners. */
  readonly runnerEnvironment?: string;
}

export const CLAIM_REQUIREMENT_FIELDS = [
  'sourceRepository',
  'sourceRef',
  'sourceDigest',
  'signerWorkflow',
  'runnerEnvironment',
] as const satisfies readonly (keyof ClaimRequirements)[];

export const claimRequirementsSchema = {
  sourceRepository: { type: 'string', minLength: 1, maxLength: MAX_CLAIM_LENGTH },
  sourceRef: { type: 'string', minLength: 1, maxLength: MAX_CLAIM_LENGTH },
  sourceDigest: { type: 'string', pattern: '^([0-9a-f]{40}|[0-9a-f]{64})$' },
  signerWorkflow: { type: 'string', minLength: 1, maxLength: MAX_CLAIM_LENGTH },
  runnerEnvironment: { type: 'string', minLength: 1, maxLength: 64 },
} as const;

/** Why the claims do not satisfy the requirements (the first unmet one); undefined when they do. */
export type ClaimCheck = (claims: CertificateClaims | undefined) => string | undefined;

/** Compiles a signer entry's claim requirements; globs are checked when the policy loads. */
export function compileClaimRequirements(spec: ClaimRequirements, where: string): ClaimCheck | undefined {
  const checks: ClaimCheck[] = [];
  const exact = (field: keyof ClaimRequirements, claim: keyof CertificateClaims, label: string) => {
    const wanted = spec[field];
    if (wanted === undefined) return;
    checks.push((claims) =>
      claims?.[claim] === wanted ? undefined : `${label} ${show(claims?.[claim])} is not ${wanted}`,
    );
  };
  const glob = (field: keyof ClaimRequirements, claim: keyof CertificateClaims, label: string) => {
    const pattern = spec[field];
    if (pattern === undefined) return;
    const matches = compileClaimGlob(pattern, `${where}/${field}`);
    checks.push((claims) => {
      const value = claims?.[claim];
      return value !== undefined && matches(value)
        ? undefined
        : `${label} ${show(value)} does not match ${pattern}`;
    });
  };
  exact('sourceRepository', 'sourceRepositoryUri', 'source repository');
  glob('sourceRef', 'sourceRepositoryRef', 'source ref');
  exact('sourceDigest', 'sourceRepositoryDigest', 'source digest');
  glob('signerWorkflow', 'buildSignerUri', 'signer workflow');
  exact('runnerEnvironment', 'runnerEnvironment', 'runner environment');
  if (checks.length === 0) return undefined;
  return (claims) => {
    for (const check of checks) {
      const problem = check(claims);
      if (problem) return problem;
    }
    return undefined;
  };
}

const show = (value: string | undefined) => (value === undefined ? '(absent)' : JSON.stringify(value));

const EXTGLOB = /[@!+*?]\(/;

/**
 * A glob on a claim, compiled as the policy's object-key globs are (picomatch, dots matched, no negation
 * or extended globs, `(`, `)` and `|` literal): `*` stays inside a `/`-separated segment, `**` as a whole
 * segment crosses them. Refused when the policy loads if it could only mislead.
 */
function compileClaimGlob(pattern: string, where: string): (value: string) => boolean {
  const fail = (why: string) => {
    throw new VouchError('PARSE_ERROR', `${where}: ${JSON.stringify(pattern)} ${why}`);
  };
  if (hasControlOrBackslash(pattern)) fail('contains a control, bidirectional or backslash character');
  // `acme/app` and `acme/app\u200B` look the same: a pattern that could not match what it shows.
  if (INVISIBLE.test(pattern)) fail('contains an invisible character');
  if (pattern.startsWith('!')) fail('is a negation, which is not supported');
  if (EXTGLOB.test(pattern))
    fail('uses an extended glob (`@(`, `!(`, `+(`, `*(`, `?(`), which is not supported');
  const literal = pattern.replace(/[()|]/g, (c) => `\\${c}`);
  return picomatch(literal, { dot: true, noextglob: true, nonegate: true });
}
