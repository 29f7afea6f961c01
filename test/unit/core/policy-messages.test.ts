import { describe, expect, it } from 'vitest';
import { compilePolicy, type PolicySpec } from '#core/index.ts';

// A policy refused when it loads says where in the file the problem is: the path a reader looks up.
const requirement = { type: 'https://slsa.dev/provenance/v1', signers: [{ registry: true as const }] };
const refusal = (spec: Omit<PolicySpec, 'version'>) => {
  try {
    compilePolicy({ version: 1, ...spec }, 'sha256:test', 'p.yaml');
  } catch (error) {
    return error;
  }
  throw new Error('expected the policy to be refused');
};

describe('#compilePolicy, where a refused policy is wrong', () => {
  it('names the exclude glob', () => {
    expect(
      refusal({ rules: [{ name: 'r', match: ['**'], exclude: ['/x'], require: [requirement] }] }),
    ).toMatchObject({
      code: 'PARSE_ERROR',
      message: expect.stringMatching(/^p\.yaml: \/rules\/0\/exclude\/0: "\/x" /),
    });
  });

  it('names the enforceFrom time', () => {
    expect(
      refusal({ rules: [{ name: 'r', match: ['**'], enforceFrom: 'soon', require: [requirement] }] }),
    ).toMatchObject({ code: 'PARSE_ERROR', message: 'p.yaml: /rules/0/enforceFrom: "soon" is not a time' });
  });

  it('names the signer group entry', () => {
    expect(
      refusal({
        signers: { release: [{ registry: true }, { publicKey: 'not a key' }] },
        rules: [{ name: 'r', match: ['**'], require: [requirement] }],
      }),
    ).toMatchObject({
      code: 'PARSE_ERROR',
      message: expect.stringMatching(/^p\.yaml: \/signers\/release\/1\.publicKey: not a PEM public key/),
    });
  });
});

describe('#compilePolicy, rules without exclusions', () => {
  it('match exactly what their match globs do', () => {
    const policy = compilePolicy(
      { version: 1, rules: [{ name: 'r', match: ['releases/**'], require: [requirement] }] },
      'sha256:test',
    );
    expect(policy.rules[0]?.matches('releases/app')).toBe(true);
    expect(policy.rules[0]?.matches('docs/app')).toBe(false);
  });
});
