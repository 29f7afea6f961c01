import { VouchError } from './errors.ts';
import type { Limits } from './limits.ts';

export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface Subject {
  readonly name?: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface Statement {
  readonly _type: typeof STATEMENT_V1 | typeof STATEMENT_V01;
  readonly subject: readonly Subject[];
  readonly predicateType: string;
  readonly predicate?: Readonly<Record<string, unknown>>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const HEX = /^[0-9a-fA-F]+$/;

/**
 * The first way `value` is not an in-toto Statement, as a JSON pointer and what is wrong there; none if it
 * is one. Hand-written (it used to be a JSON Schema compiled at load time, the verifier's largest share of
 * its cold start): `_type` v1 or v0.1, a non-empty `subject` array of objects each with a `digest` object
 * of at least one hex string (and a string `name` if any), a non-empty `predicateType`, an object
 * `predicate` if any.
 */
export function statementProblem(value: unknown): { where: string; message: string } | undefined {
  if (!isObject(value)) return { where: '', message: 'must be object' };
  for (const required of ['_type', 'subject', 'predicateType'])
    if (!(required in value)) return { where: '', message: `must have required property '${required}'` };
  if (value._type !== STATEMENT_V1 && value._type !== STATEMENT_V01)
    return { where: '/_type', message: 'must be equal to one of the allowed values' };
  const subjects = value.subject;
  if (!Array.isArray(subjects)) return { where: '/subject', message: 'must be array' };
  if (subjects.length < 1) return { where: '/subject', message: 'must NOT have fewer than 1 items' };
  for (const [i, subject] of subjects.entries()) {
    const at = `/subject/${i}`;
    if (!isObject(subject)) return { where: at, message: 'must be object' };
    if (!('digest' in subject)) return { where: at, message: "must have required property 'digest'" };
    if ('name' in subject && typeof subject.name !== 'string')
      return { where: `${at}/name`, message: 'must be string' };
    const digest = subject.digest;
    if (!isObject(digest)) return { where: `${at}/digest`, message: 'must be object' };
    const entries = Object.entries(digest);
    if (entries.length < 1)
      return { where: `${at}/digest`, message: 'must NOT have fewer than 1 properties' };
    for (const [algorithm, hex] of entries) {
      const where = `${at}/digest/${algorithm.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      if (typeof hex !== 'string') return { where, message: 'must be string' };
      if (!HEX.test(hex)) return { where, message: `must match pattern "${HEX.source}"` };
    }
  }
  if (typeof value.predicateType !== 'string') return { where: '/predicateType', message: 'must be string' };
  if (value.predicateType.length < 1)
    return { where: '/predicateType', message: 'must NOT have fewer than 1 characters' };
  if ('predicate' in value && !isObject(value.predicate))
    return { where: '/predicate', message: 'must be object' };
  return undefined;
}

/** Validates a decoded DSSE payload as an in-toto Statement (v1 or v0.1). */
export function toStatement(value: unknown, limits: Limits, what: string): Statement {
  const problem = statementProblem(value);
  if (problem) {
    const where = problem.where === '' ? '' : ` at ${problem.where}`;
    throw new VouchError('PARSE_ERROR', `${what}: not an in-toto Statement${where}: ${problem.message}`);
  }
  const statement = value as unknown as Statement;
  if (statement.subject.length > limits.maxSubjects) {
    throw new VouchError(
      'LIMIT_EXCEEDED',
      `${what}: ${statement.subject.length} subjects exceeds the limit of ${limits.maxSubjects}`,
    );
  }
  return statement;
}
