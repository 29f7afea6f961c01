import { Ajv } from 'ajv';
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

const statementSchema = {
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

const validateStatement = new Ajv({ allErrors: false, strict: true }).compile<Statement>(statementSchema);

/** Validates a decoded DSSE payload as an in-toto Statement (v1 or v0.1). */
export function toStatement(value: unknown, limits: Limits, what: string): Statement {
  if (!validateStatement(value)) {
    const [first] = validateStatement.errors ?? [];
    const where = first?.instancePath === '' ? '' : ` at ${first?.instancePath}`;
    throw new VouchError(
      'PARSE_ERROR',
      `${what}: not an in-toto Statement${where}: ${first?.message ?? 'invalid'}`,
    );
  }
  if (value.subject.length > limits.maxSubjects) {
    throw new VouchError(
      'LIMIT_EXCEEDED',
      `${what}: ${value.subject.length} subjects exceeds the limit of ${limits.maxSubjects}`,
    );
  }
  return value;
}
