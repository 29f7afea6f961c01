import { createHash, type KeyObject } from 'node:crypto';
import { Ajv } from 'ajv';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { VouchError } from './errors.ts';
import { parseJson } from './json.ts';
import { keyIdOf, publicKeyFromPem } from './keys.ts';
import type { SignerIdentity } from './signatures.ts';

/** The reserved requirement type for a plain Sigstore message signature over the artifact. */
export const ARTIFACT_SIGNATURE = 'signature';
/** Requirement type matching any predicate or a plain signature: `vouch verify` without `--type`. */
export const ANY_TYPE = '*';

export type Mode = 'enforce' | 'audit';

/** A signer entry as written in the policy file. */
export type SignerSpec =
  | { readonly registry: true }
  | { readonly keyId: string }
  | { readonly publicKey: string }
  | { readonly issuer: string; readonly identity: string }
  | { readonly issuer: string; readonly identityRegexp: string };

export interface RequirementSpec {
  readonly type: string | readonly string[];
  readonly signers: readonly (string | SignerSpec)[];
  readonly threshold?: number;
  readonly builderIds?: readonly string[];
  readonly sourceRepositories?: readonly string[];
}

export interface RuleSpec {
  readonly name: string;
  readonly match: readonly string[];
  readonly exclude?: readonly string[];
  readonly mode?: Mode;
  readonly require: readonly RequirementSpec[];
}

export interface PolicySpec {
  readonly version: 1;
  readonly mode?: Mode;
  readonly noMatch?: 'reject' | 'accept';
  readonly signers?: Readonly<Record<string, readonly SignerSpec[]>>;
  readonly rules: readonly RuleSpec[];
}

const NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const stringList = {
  type: 'array',
  items: { type: 'string', minLength: 1 },
  minItems: 1,
  maxItems: 256,
} as const;
const signerSchema = {
  oneOf: [
    {
      type: 'object',
      required: ['registry'],
      additionalProperties: false,
      properties: { registry: { const: true } },
    },
    {
      type: 'object',
      required: ['keyId'],
      additionalProperties: false,
      properties: { keyId: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['publicKey'],
      additionalProperties: false,
      properties: { publicKey: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['issuer', 'identity'],
      additionalProperties: false,
      properties: { issuer: { type: 'string', minLength: 1 }, identity: { type: 'string', minLength: 1 } },
    },
    {
      type: 'object',
      required: ['issuer', 'identityRegexp'],
      additionalProperties: false,
      properties: {
        issuer: { type: 'string', minLength: 1 },
        identityRegexp: { type: 'string', minLength: 1 },
      },
    },
  ],
} as const;

/** JSON Schema of the policy file; published in the README. */
export const POLICY_SCHEMA = {
  type: 'object',
  required: ['version', 'rules'],
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    mode: { enum: ['enforce', 'audit'] },
    noMatch: { enum: ['reject', 'accept'] },
    signers: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: { type: 'array', items: signerSchema, minItems: 1 },
    },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'match', 'require'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: NAME },
          match: stringList,
          exclude: stringList,
          mode: { enum: ['enforce', 'audit'] },
          require: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              required: ['type', 'signers'],
              additionalProperties: false,
              properties: {
                type: { oneOf: [{ type: 'string', minLength: 1 }, stringList] },
                signers: {
                  type: 'array',
                  minItems: 1,
                  items: { oneOf: [{ type: 'string', pattern: NAME }, signerSchema] },
                },
                threshold: { type: 'integer', minimum: 1, maximum: 64 },
                builderIds: stringList,
                sourceRepositories: stringList,
              },
            },
          },
        },
      },
    },
  },
} as const;

const validatePolicy = new Ajv({ allErrors: false, strict: true }).compile<PolicySpec>(POLICY_SCHEMA);

/** A signer check compiled from the policy. */
export interface AllowedSigner {
  readonly description: string;
  /** Matches an open set of signers (the registry, an identity pattern), so no count bounds a threshold. */
  readonly open: boolean;
  allows(signer: SignerIdentity, keyOrigin: 'registry' | 'other' | undefined): boolean;
}

export interface Requirement {
  readonly types: readonly string[];
  readonly signers: readonly AllowedSigner[];
  readonly threshold: number;
  readonly builderIds?: readonly string[];
  readonly sourceRepositories?: readonly string[];
}

export interface Rule {
  readonly name: string;
  readonly mode: Mode;
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
  readonly spec: PolicySpec;
}

/** Parses, schema-validates and compiles a policy file (YAML or JSON). Throws VouchError with the path. */
export function parsePolicy(content: string | Buffer, what = 'policy'): Policy {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  let value: unknown;
  try {
    // A bounded alias count stops "billion laughs" expansion of YAML anchors.
    value = text.trimStart().startsWith('{')
      ? parseJson(text, 32, what)
      : parseYaml(text, { maxAliasCount: 64 });
  } catch (error) {
    if (error instanceof VouchError) throw error;
    throw new VouchError('PARSE_ERROR', `${what}: not valid YAML (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (!validatePolicy(value)) {
    const [first] = validatePolicy.errors ?? [];
    const where = first?.instancePath ? first.instancePath : '(root)';
    const detail =
      first?.params && 'allowedValues' in first.params
        ? ` ${JSON.stringify(first.params.allowedValues)}`
        : '';
    throw new VouchError('PARSE_ERROR', `${what}: ${where} ${first?.message ?? 'is invalid'}${detail}`);
  }
  return compilePolicy(value, `sha256:${createHash('sha256').update(text).digest('hex')}`, what);
}

export function compilePolicy(spec: PolicySpec, digest: string, what = 'policy'): Policy {
  const inlineKeys: { keyId: string; publicKey: KeyObject }[] = [];
  const compileSigner = (signer: SignerSpec, where: string): AllowedSigner => {
    if ('registry' in signer) {
      return {
        description: 'any key in the Vouch key registry',
        open: true,
        allows: (s, origin) => s.kind === 'key' && origin === 'registry',
      };
    }
    if ('keyId' in signer) {
      return {
        description: `key ${signer.keyId}`,
        open: false,
        allows: (s) => s.kind === 'key' && s.keyId === signer.keyId,
      };
    }
    if ('publicKey' in signer) {
      const publicKey = publicKeyFromPem(signer.publicKey, `${what}: ${where}.publicKey`);
      const keyId = keyIdOf(publicKey);
      inlineKeys.push({ keyId, publicKey });
      return {
        description: `key ${keyId}`,
        open: false,
        allows: (s) => s.kind === 'key' && s.keyId === keyId,
      };
    }
    const { issuer } = signer;
    if ('identity' in signer) {
      return {
        description: `${signer.identity} (issuer ${issuer})`,
        open: false,
        allows: (s) =>
          s.kind === 'keyless' && s.issuer === issuer && s.subjectAlternativeName === signer.identity,
      };
    }
    let pattern: RegExp;
    try {
      // Anchored, unlike cosign's --certificate-identity-regexp: an unanchored pattern silently allows
      // any identity that merely contains it.
      pattern = new RegExp(`^(?:${signer.identityRegexp})$`, 'u');
    } catch (error) {
      throw new VouchError('PARSE_ERROR', `${what}: ${where}.identityRegexp: ${(error as Error).message}`);
    }
    return {
      description: `identity matching /${signer.identityRegexp}/ (issuer ${issuer})`,
      open: true,
      allows: (s) => s.kind === 'keyless' && s.issuer === issuer && pattern.test(s.subjectAlternativeName),
    };
  };

  const groups = new Map<string, AllowedSigner[]>();
  for (const [name, signers] of Object.entries(spec.signers ?? {})) {
    groups.set(
      name,
      signers.map((signer, index) => compileSigner(signer, `/signers/${name}/${index}`)),
    );
  }

  const defaultMode = spec.mode ?? 'enforce';
  const rules = spec.rules.map((rule, ruleIndex): Rule => {
    const include = picomatch([...rule.match], { dot: true });
    const exclude = rule.exclude ? picomatch([...rule.exclude], { dot: true }) : () => false;
    const requirements = rule.require.map((requirement, index): Requirement => {
      const where = `/rules/${ruleIndex}/require/${index}`;
      const signers = requirement.signers.flatMap((signer, signerIndex) => {
        if (typeof signer !== 'string') return [compileSigner(signer, `${where}/signers/${signerIndex}`)];
        const group = groups.get(signer);
        if (!group) {
          throw new VouchError(
            'PARSE_ERROR',
            `${what}: ${where}/signers/${signerIndex} names unknown signer group "${signer}"`,
          );
        }
        return group;
      });
      const threshold = requirement.threshold ?? 1;
      if (threshold > signers.length && !signers.some((s) => s.open)) {
        throw new VouchError(
          'PARSE_ERROR',
          `${what}: ${where}/threshold ${threshold} can never be met by ${signers.length} allowed signer(s)`,
        );
      }
      return {
        types: typeof requirement.type === 'string' ? [requirement.type] : [...requirement.type],
        signers,
        threshold,
        ...(requirement.builderIds ? { builderIds: requirement.builderIds } : {}),
        ...(requirement.sourceRepositories ? { sourceRepositories: requirement.sourceRepositories } : {}),
      };
    });
    return {
      name: rule.name,
      mode: rule.mode ?? defaultMode,
      requirements,
      matches: (path) => include(path) && !exclude(path),
    };
  });

  return { digest, noMatch: spec.noMatch ?? 'reject', rules, inlineKeys, spec };
}
