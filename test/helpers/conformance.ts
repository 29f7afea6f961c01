import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  compilePolicy,
  type Decision,
  evaluate,
  keyIdOf,
  parseAttestationFile,
  publicKeyFromPem,
  type ReasonCode,
  type SignerSpec,
  staticKeyLookup,
  trustRootFromJson,
  VouchError,
} from '#core/index.ts';
import {
  CONFORMANCE,
  CONFORMANCE_IDENTITY,
  CONFORMANCE_ISSUER,
  PUBLIC_GOOD_ROOT_FIXTURE,
} from './fixtures.ts';

/** The case folders of the suite (each has a bundle.sigstore.json); empty without the fixtures. */
export const conformanceCases = (): string[] =>
  existsSync(CONFORMANCE)
    ? readdirSync(CONFORMANCE, { withFileTypes: true })
        .filter(
          (entry) => entry.isDirectory() && existsSync(`${CONFORMANCE}${entry.name}/bundle.sigstore.json`),
        )
        .map((entry) => entry.name)
        .sort()
    : [];

export interface CaseOutcome {
  readonly accepted: boolean;
  /** The root cause first, as in a decision's reasons. */
  readonly codes: readonly ReasonCode[];
  readonly messages: readonly string[];
  /** Undefined when the case's inputs (its trusted root, its key) were refused before evaluation. */
  readonly decision?: Decision;
}

const OBSERVED_AT = new Date('2030-01-01T00:00:00Z');

/**
 * One case as its README says a client runs it, through `evaluate` as `vouch verify` does (strict): the
 * case's artifact (else the suite's `a.txt`), trusted root (else public-good), and key (else its identity
 * and issuer, else the suite's). A trusted root or key Vouch refuses to load is a rejection, as the CLI
 * exits non-zero on it. `signer` replaces the case's signer (to show why a case fails beyond identity).
 */
export function decideCase(name: string, signer?: SignerSpec): CaseOutcome {
  const dir = `${CONFORMANCE}${name}/`;
  const optional = (file: string) =>
    existsSync(`${dir}${file}`) ? readFileSync(`${dir}${file}`, 'utf8') : undefined;
  try {
    const artifact = existsSync(`${dir}artifact`)
      ? readFileSync(`${dir}artifact`)
      : readFileSync(`${CONFORMANCE}a.txt`);
    const root = optional('trusted_root.json') ?? readFileSync(PUBLIC_GOOD_ROOT_FIXTURE, 'utf8');
    const keyPem = optional('key.pub');
    const key = keyPem === undefined ? undefined : publicKeyFromPem(keyPem, `${name}/key.pub`);
    const identity = optional('identity')?.trim() ?? CONFORMANCE_IDENTITY;
    const issuer = optional('issuer')?.trim() ?? CONFORMANCE_ISSUER;
    const allowed: SignerSpec = signer ?? (keyPem ? { publicKey: keyPem } : { issuer, identity });
    const parsed = parseAttestationFile(readFileSync(`${dir}bundle.sigstore.json`), 'bundle.sigstore.json');
    const decision = evaluate({
      artifact: {
        path: 'a.txt',
        digests: {
          sha256: createHash('sha256').update(artifact).digest('hex'),
          sha512: createHash('sha512').update(artifact).digest('hex'),
        },
      },
      attestations: parsed.attestations,
      inputErrors: parsed.errors,
      policy: compilePolicy(
        { version: 1, rules: [{ name: 'any', match: ['**'], require: [{ type: '*', signers: [allowed] }] }] },
        'sha256:conformance',
      ),
      // As `vouch verify --key`: the case's key is used whatever the bundle's hint says.
      keys: staticKeyLookup(key ? [{ keyId: keyIdOf(key), publicKey: key }] : []),
      trustRoot: trustRootFromJson(JSON.parse(root), `${name}/trusted_root.json`),
      observedAt: OBSERVED_AT,
      strict: true,
    });
    return {
      accepted: decision.accepted,
      codes: decision.reasons.map((reason) => reason.code),
      messages: decision.reasons.map((reason) => reason.message),
      decision,
    };
  } catch (error) {
    if (!(error instanceof VouchError)) throw error;
    return { accepted: false, codes: [error.code], messages: [error.message] };
  }
}
