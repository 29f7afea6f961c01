import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { VouchError } from './errors.ts';
import type { PolicySpec } from './policy.ts';
import { POLICY_SCHEMA } from './policy-schema.ts';

/**
 * The YAML parser and the schema check of a policy file: imported by `loadPolicySyntax()` (policy.ts)
 * only when a policy has to be parsed from YAML or checked against the schema. A verifier whose policy
 * synth already parsed and validated never loads either (about a quarter of its bundle).
 */

/** Parses a policy's YAML; a bounded alias count stops "billion laughs" expansion of anchors. */
export function parseYaml(text: string, what: string): unknown {
  try {
    return parse(text, { maxAliasCount: 64 });
  } catch (error) {
    throw new VouchError('PARSE_ERROR', `${what}: not valid YAML (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** Throws a VouchError naming the first schema violation, unless `value` is a policy document. */
export function checkSchema(value: unknown, what: string): void {
  const validate = schemaValidator();
  if (!validate(value))
    throw new VouchError('PARSE_ERROR', `${what}: ${schemaProblem(validate.errors ?? [])}`);
}

/** The schema's validator, compiled on first use. */
let policyValidator: ValidateFunction<PolicySpec> | undefined;
const schemaValidator = () =>
  // verbose: errors carry the schema they failed, so a message can list the keys allowed where one was not.
  (policyValidator ??= new Ajv({ allErrors: false, strict: true, verbose: true }).compile<PolicySpec>(
    POLICY_SCHEMA,
  ));

const SIGNER_SHAPES =
  '{ registry: true }, { registry: { pipeline } }, { keyId }, { publicKey }, { issuer, identity } or { issuer, identityRegexp }';

/** The first schema violation, naming the offending key and, for an unknown one, the keys allowed there. */
function schemaProblem(errors: readonly ErrorObject[]): string {
  // A signer entry fails every branch of its oneOf: the branch errors only say which one was tried first.
  const signer = errors.find(
    (e) => e.keyword === 'oneOf' && /\/signers\/[^/]+(\/\d+)?$/.test(e.instancePath),
  );
  const first = signer ?? errors[0];
  if (!first) return 'is invalid';
  const where = first.instancePath || '(root)';
  if (signer) {
    const found = isPlainObject(signer.data) ? Object.keys(signer.data) : [];
    return `${where} is not a signer: write ${/\/rules\//.test(where) ? 'a signer group name, ' : ''}${SIGNER_SHAPES}${found.length ? `; found keys ${found.join(', ')}` : ''}`;
  }
  if (first.keyword === 'additionalProperties') {
    const key = String(first.params.additionalProperty);
    const properties = (first.parentSchema as { properties?: Record<string, unknown> } | undefined)
      ?.properties;
    const allowed = Object.keys(properties ?? {});
    return `${where} has an unknown key "${key}"${allowed.length ? `; allowed there: ${allowed.join(', ')}` : ''}`;
  }
  const detail = 'allowedValues' in first.params ? ` ${JSON.stringify(first.params.allowedValues)}` : '';
  return `${where} ${first.message ?? 'is invalid'}${detail}`;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
