// Over ~300 lines on purpose: compiling a policy (signers, requirements, rules, exceptions) and the
// load-time refusals of combinations whose checks could not apply; the schema is policy-schema.ts.
import { createHash, type KeyObject } from 'node:crypto';
import { ConditionEngineNotLoaded, loadConditionEngine } from './condition-engine.ts';
import type { Condition } from './conditions.ts';
import { VouchError } from './errors.ts';
import { compileGlobs } from './globs.ts';
import { parseJson } from './json.ts';
import {
  compileConditions,
  compileExceptions,
  compileGate,
  type ExceptionSpec,
  type PolicyException,
  parseTime,
  type VulnerabilityGate,
  type VulnerabilitySpec,
} from './policy-extensions.ts';
import type * as PolicySyntax from './policy-syntax.ts';
import { SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02 } from './provenance.ts';
import { type AllowedSigner, compileSigner, type SignerSpec } from './signers.ts';

export type { AllowedSigner, SignerContext, SignerSpec } from './signers.ts';

/** The reserved requirement type for a plain Sigstore message signature over the artifact. */
export const ARTIFACT_SIGNATURE = 'signature';
/** Requirement type matching any predicate or a plain signature: `vouch verify` without `--type`. */
export const ANY_TYPE = '*';

export type Mode = 'enforce' | 'audit';

export interface RequirementSpec {
  readonly type: string | readonly string[];
  readonly signers: readonly (string | SignerSpec)[];
  readonly threshold?: number;
  readonly builderIds?: readonly string[];
  readonly sourceRepositories?: readonly string[];
  /** A subject naming the artifact's digest must also carry its name: the object key or its file name. */
  readonly requireSubjectName?: boolean;
  /** CEL expressions over each counted statement; all must hold. */
  readonly conditions?: readonly string[];
  readonly vulnerabilities?: VulnerabilitySpec;
}

export interface RuleSpec {
  readonly name: string;
  readonly match: readonly string[];
  readonly exclude?: readonly string[];
  readonly mode?: Mode;
  /** Before this time the rule is in audit mode whatever `mode` says (a phase-in). */
  readonly enforceFrom?: string;
  readonly require: readonly RequirementSpec[];
}

export interface PolicySpec {
  readonly version: 1;
  readonly mode?: Mode;
  readonly noMatch?: 'reject' | 'accept';
  readonly signers?: Readonly<Record<string, readonly SignerSpec[]>>;
  readonly rules: readonly RuleSpec[];
  readonly exceptions?: readonly ExceptionSpec[];
}

export interface Requirement {
  readonly types: readonly string[];
  readonly signers: readonly AllowedSigner[];
  readonly threshold: number;
  readonly builderIds?: readonly string[];
  readonly sourceRepositories?: readonly string[];
  readonly requireSubjectName: boolean;
  readonly conditions: readonly Condition[];
  readonly vulnerabilities?: VulnerabilityGate;
}

export interface Rule {
  readonly name: string;
  readonly mode: Mode;
  /** Audit mode before this time, `mode` from it on. */
  readonly enforceFrom?: Date;
  readonly requirements: readonly Requirement[];
  matches(path: string): boolean;
}

export interface Policy {
  /** `sha256:<hex>` of the policy file's bytes: recorded in every decision. */
  readonly digest: string;
  readonly noMatch: 'reject' | 'accept';
  readonly rules: readonly Rule[];
  /** Public keys written into the policy itself, trusted in addition to the caller's key lookup. */
  readonly inlineKeys: readonly { readonly keyId: string; readonly publicKey: KeyObject }[];
  readonly exceptions: readonly PolicyException[];
  /** The signed bundle's version number; undefined for a policy file read directly (the bundled one). */
  readonly version?: number;
  readonly spec: PolicySpec;
}

export interface ParseOptions {
  /**
   * The digest of a file whose schema was checked already (by `cdk synth`, which bundles the file with
   * the verifier): exactly those bytes skip the schema check; any other bytes get it.
   */
  readonly schemaValidated?: string;
  /**
   * The document synth parsed from exactly the bytes `schemaValidated` names, as JSON: read instead of
   * parsing those bytes again (no YAML parser at a cold start). Ignored for any other bytes.
   */
  readonly validatedDocument?: () => string;
}

/**
 * The YAML parser and schema compiler (policy-syntax.ts) are loaded only when a policy needs them: one
 * that synth did not parse and validate already. Compiling a policy is synchronous, so whoever parses one
 * that may need them loads them first (`parsePolicyAsync`, `openPolicyBundle` do).
 */
let syntax: typeof PolicySyntax | undefined;

export async function loadPolicySyntax(): Promise<void> {
  syntax ??= await import('./policy-syntax.ts');
}

export class PolicySyntaxNotLoaded extends Error {
  constructor() {
    super(
      'the policy needs the YAML parser or the schema check, not loaded: load them with parsePolicyAsync',
    );
    this.name = 'PolicySyntaxNotLoaded';
  }
}

function policySyntax(): typeof PolicySyntax {
  if (!syntax) throw new PolicySyntaxNotLoaded();
  return syntax;
}

/**
 * `parsePolicy` for any policy: loads first what it needs and is not loaded yet (the YAML parser and
 * schema check, the CEL engine for conditions), and only that.
 */
export async function parsePolicyAsync(
  content: string | Buffer,
  what = 'policy',
  options: ParseOptions = {},
): Promise<Policy> {
  // At most one load of each: a third attempt has everything it can need.
  for (let attempt = 1; ; attempt++) {
    try {
      return parsePolicy(content, what, options);
    } catch (error) {
      if (attempt < 3 && error instanceof PolicySyntaxNotLoaded) await loadPolicySyntax();
      else if (attempt < 3 && error instanceof ConditionEngineNotLoaded) await loadConditionEngine();
      else throw error;
    }
  }
}

/**
 * Parses, schema-validates and compiles a policy file (YAML or JSON). Throws VouchError with the path;
 * a policy synth did not validate needs the policy syntax loaded, one with conditions the CEL engine
 * (`parsePolicyAsync` loads both). See ParseOptions.
 */
export function parsePolicy(content: string | Buffer, what = 'policy', options: ParseOptions = {}): Policy {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const digest = policyDigest(text);
  const validated = options.schemaValidated === digest;
  const value =
    validated && options.validatedDocument
      ? parseJson(options.validatedDocument(), 32, `${what} (as synth parsed it)`)
      : text.trimStart().startsWith('{')
        ? parseJson(text, 32, what)
        : policySyntax().parseYaml(text, what);
  if (!validated) policySyntax().checkSchema(value, what);
  return compilePolicy(value as PolicySpec, digest, what);
}

/** `sha256:<hex>` of a policy file's text, as every decision records it. */
export const policyDigest = (text: string | Buffer) =>
  `sha256:${createHash('sha256').update(text).digest('hex')}`;

export function compilePolicy(spec: PolicySpec, digest: string, what = 'policy'): Policy {
  const inlineKeys: { keyId: string; publicKey: KeyObject }[] = [];
  const compile = (signer: SignerSpec, where: string): AllowedSigner =>
    compileSigner(signer, `${what}: ${where}`, inlineKeys);

  const groups = new Map<string, AllowedSigner[]>();
  for (const [name, signers] of Object.entries(spec.signers ?? {})) {
    groups.set(
      name,
      signers.map((signer, index) => compile(signer, `/signers/${name}/${index}`)),
    );
  }

  const defaultMode = spec.mode ?? 'enforce';
  const rules = spec.rules.map((rule, ruleIndex): Rule => {
    const include = compileGlobs(rule.match, `${what}: /rules/${ruleIndex}/match`);
    const exclude = rule.exclude
      ? compileGlobs(rule.exclude, `${what}: /rules/${ruleIndex}/exclude`)
      : () => false;
    const requirements = rule.require.map((requirement, index): Requirement => {
      const where = `/rules/${ruleIndex}/require/${index}`;
      const expand = (list: readonly (string | SignerSpec)[], at: string) =>
        list.flatMap((signer, signerIndex) => {
          if (typeof signer !== 'string') return [compile(signer, `${at}/${signerIndex}`)];
          const group = groups.get(signer);
          if (!group) {
            throw new VouchError(
              'PARSE_ERROR',
              `${what}: ${at}/${signerIndex} names unknown signer group "${signer}"`,
            );
          }
          return group;
        });
      const signers = expand(requirement.signers, `${where}/signers`);
      const seen = new Map<string, number>();
      signers.forEach((signer, signerIndex) => {
        const first = seen.get(signer.id);
        if (first !== undefined) {
          throw new VouchError(
            'PARSE_ERROR',
            `${what}: ${where}/signers lists ${signer.description} twice (entries ${first} and ${signerIndex}, after expanding groups): one signer cannot count twice toward a threshold`,
          );
        }
        seen.set(signer.id, signerIndex);
      });
      const types = typeof requirement.type === 'string' ? [requirement.type] : [...requirement.type];
      assertChecksApply(requirement, types, `${what}: ${where}`);
      const threshold = requirement.threshold ?? 1;
      if (threshold > signers.length && !signers.some((s) => s.open)) {
        throw new VouchError(
          'PARSE_ERROR',
          `${what}: ${where}/threshold ${threshold} can never be met by ${signers.length} allowed signer(s)`,
        );
      }
      return {
        types,
        signers,
        threshold,
        ...(requirement.builderIds ? { builderIds: requirement.builderIds } : {}),
        ...(requirement.sourceRepositories ? { sourceRepositories: requirement.sourceRepositories } : {}),
        requireSubjectName: requirement.requireSubjectName ?? false,
        conditions: compileConditions(requirement.conditions, `${what}: ${where}`),
        ...(requirement.vulnerabilities
          ? {
              vulnerabilities: compileGate(
                requirement.vulnerabilities,
                requirement.vulnerabilities.vexSigners
                  ? expand(requirement.vulnerabilities.vexSigners, `${where}/vulnerabilities/vexSigners`)
                  : signers,
              ),
            }
          : {}),
      };
    });
    return {
      name: rule.name,
      mode: rule.mode ?? defaultMode,
      ...(rule.enforceFrom
        ? { enforceFrom: parseTime(rule.enforceFrom, `${what}: /rules/${ruleIndex}/enforceFrom`) }
        : {}),
      requirements,
      matches: (path) => include(path) && !exclude(path),
    };
  });

  const exceptions = compileExceptions(
    spec.exceptions,
    rules.map((rule) => rule.name),
    compileGlobs,
    what,
  );
  return { digest, noMatch: spec.noMatch ?? 'reject', rules, inlineKeys, exceptions, spec };
}

const PROVENANCE_TYPES: readonly string[] = [SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02];

/**
 * A check that cannot apply to every type a requirement accepts would be skipped for the others, so a
 * plain signature could meet a requirement "with" a builder check. Refused when the policy loads.
 */
function assertChecksApply(requirement: RequirementSpec, types: readonly string[], where: string): void {
  const provenanceOnly = (['builderIds', 'sourceRepositories'] as const).filter(
    (field) => requirement[field],
  );
  const other = types.filter((type) => !PROVENANCE_TYPES.includes(type));
  if (provenanceOnly.length > 0 && other.length > 0) {
    throw new VouchError(
      'PARSE_ERROR',
      `${where}: ${provenanceOnly.join(' and ')} check SLSA provenance (${PROVENANCE_TYPES.join(', ')}) only, but type also accepts ${other.map((t) => JSON.stringify(t)).join(', ')}; list the other types in a requirement of their own`,
    );
  }
  const unnamed = types.filter((type) => type === ARTIFACT_SIGNATURE || type === ANY_TYPE);
  const statementOnly = (['requireSubjectName', 'conditions', 'vulnerabilities'] as const).filter(
    (field) => requirement[field],
  );
  if (statementOnly.length > 0 && unnamed.length > 0) {
    throw new VouchError(
      'PARSE_ERROR',
      `${where}: ${statementOnly.join(' and ')} need${statementOnly.length === 1 ? 's' : ''} statements, but type accepts ${unnamed.map((t) => JSON.stringify(t)).join(', ')} (plain signatures carry no statement)`,
    );
  }
}

/** Every key a policy names by ID: looked up before evaluation, to try for signatures that name no key. */
export const namedKeys = (policy: Policy): string[] => [
  ...new Set(
    policy.rules.flatMap((rule) =>
      rule.requirements.flatMap((requirement) => requirement.signers.flatMap((signer) => signer.keyId ?? [])),
    ),
  ),
];

/** Every Sigstore instance a policy's keyless signers trust: the verifier must hold a root for each. */
export const namedInstances = (policy: Policy): string[] => [
  ...new Set(
    policy.rules.flatMap((rule) =>
      rule.requirements.flatMap((requirement) =>
        requirement.signers.flatMap((signer) => signer.instances ?? []),
      ),
    ),
  ),
];
