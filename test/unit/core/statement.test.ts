import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '#core/limits.ts';
import { STATEMENT_V1, STATEMENT_V01, statementProblem, toStatement } from '#core/statement.ts';

// The statement check was a JSON Schema compiled by Ajv when the module loaded; it is hand-written now
// (the verifier's cold start). The schema stays here as the reference it must agree with.
const referenceSchema = {
  type: 'object',
  required: ['_type', 'subject', 'predicateType'],
  properties: {
    _type: { enum: [STATEMENT_V1, STATEMENT_V01] },
    subject: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['digest'],
        properties: {
          name: { type: 'string' },
          digest: {
            type: 'object',
            minProperties: 1,
            additionalProperties: { type: 'string', pattern: '^[0-9a-fA-F]+$' },
          },
        },
      },
    },
    predicateType: { type: 'string', minLength: 1 },
    predicate: { type: 'object' },
  },
} as const;
const reference = new Ajv({ allErrors: false, strict: true }).compile(referenceSchema);

const valid = {
  _type: STATEMENT_V1,
  subject: [{ name: 'app.tgz', digest: { sha256: 'ab12' } }],
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: { x: 1 },
};

describe('statementProblem', () => {
  it('accepts a v1 and a v0.1 statement, with or without a predicate or subject names', () => {
    expect(statementProblem(valid)).toBeUndefined();
    expect(statementProblem({ ...valid, _type: STATEMENT_V01 })).toBeUndefined();
    const { predicate: _p, ...bare } = valid;
    expect(statementProblem({ ...bare, subject: [{ digest: { sha512: 'FF' } }] })).toBeUndefined();
  });

  it.each([
    ['not an object', [], '', 'must be object'],
    ['no _type', { subject: valid.subject, predicateType: 'p' }, '', "must have required property '_type'"],
    ['another _type', { ...valid, _type: 'https://in-toto.io/Statement/v2' }, '/_type', 'allowed values'],
    ['no subjects', { ...valid, subject: [] }, '/subject', 'fewer than 1 items'],
    ['a subject without digest', { ...valid, subject: [{ name: 'a' }] }, '/subject/0', "'digest'"],
    [
      'a numeric name',
      { ...valid, subject: [{ name: 1, digest: { sha256: 'ab' } }] },
      '/subject/0/name',
      'string',
    ],
    [
      'an empty digest',
      { ...valid, subject: [{ digest: {} }] },
      '/subject/0/digest',
      'fewer than 1 properties',
    ],
    [
      'a digest not hex',
      { ...valid, subject: [{ digest: { 'sha/256': 'xyz' } }] },
      '/subject/0/digest/sha~1256',
      'pattern',
    ],
    ['an empty predicateType', { ...valid, predicateType: '' }, '/predicateType', 'fewer than 1 characters'],
    ['an array predicate', { ...valid, predicate: [] }, '/predicate', 'must be object'],
  ])('names %s', (_what, value, where, message) => {
    const problem = statementProblem(value);
    expect(problem?.where).toBe(where);
    expect(problem?.message).toContain(message);
    expect(reference(value)).toBe(false);
  });

  it.each([
    ['subjects that are not a list', { ...valid, subject: { name: 'a' } }, '/subject', 'must be array'],
    [
      'a subject that is not an object',
      { ...valid, subject: [valid.subject[0], 'a'] },
      '/subject/1',
      'must be object',
    ],
    [
      'a digest value that is not a string, its name escaped as a JSON pointer',
      { ...valid, subject: [{ digest: { 'sha~/256': 1 } }] },
      '/subject/0/digest/sha~0~1256',
      'must be string',
    ],
    [
      'a predicateType that is not a string',
      { ...valid, predicateType: 1 },
      '/predicateType',
      'must be string',
    ],
  ])('names %s, word for word', (_what, value, where, message) => {
    expect(statementProblem(value)).toEqual({ where, message });
  });

  it('agrees with the JSON Schema it replaces on statement-shaped values', () => {
    const hexish = fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{0,8}$/), fc.string({ maxLength: 4 }));
    const anything = fc.oneof(
      fc.constant(null),
      fc.integer(),
      fc.string({ maxLength: 3 }),
      fc.constant([]),
      fc.constant({}),
    );
    const digest = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(hexish, anything), { maxKeys: 3 }),
      anything,
    );
    const subject = fc.oneof(
      fc.record({ name: fc.oneof(fc.string({ maxLength: 4 }), anything), digest }, { requiredKeys: [] }),
      anything,
    );
    const statement = fc.record(
      {
        _type: fc.oneof(fc.constantFrom(STATEMENT_V1, STATEMENT_V01), anything),
        subject: fc.oneof(fc.array(subject, { maxLength: 3 }), anything),
        predicateType: fc.oneof(fc.string({ maxLength: 3 }), anything),
        predicate: fc.oneof(
          fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
          anything,
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(statement, anything), (value) => {
        expect(statementProblem(value) === undefined).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses through toStatement with the path, and caps the subjects', () => {
    expect(() =>
      toStatement({ ...valid, subject: [{ digest: { sha256: 'zz' } }] }, DEFAULT_LIMITS, 'att.json'),
    ).toThrow(/att\.json: not an in-toto Statement at \/subject\/0\/digest\/sha256: must match pattern/);
    const many = {
      ...valid,
      subject: Array.from({ length: DEFAULT_LIMITS.maxSubjects + 1 }, () => valid.subject[0]),
    };
    expect(() => toStatement(many, DEFAULT_LIMITS, 'att.json')).toThrow(/exceeds the limit/);
  });
});
