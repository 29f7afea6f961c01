import {
  conditionsSchema,
  exceptionsSchema,
  timeSchema,
  vulnerabilitiesSchema,
} from './policy-extensions.ts';
import { NAME, signerSchema } from './signers.ts';

const stringList = {
  type: 'array',
  items: { type: 'string', minLength: 1 },
  minItems: 1,
  maxItems: 256,
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
          enforceFrom: timeSchema,
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
                requireSubjectName: { type: 'boolean' },
                conditions: conditionsSchema,
                vulnerabilities: vulnerabilitiesSchema({
                  oneOf: [{ type: 'string', pattern: NAME }, signerSchema],
                }),
              },
            },
          },
        },
      },
    },
    exceptions: exceptionsSchema(stringList, NAME),
  },
} as const;
