import { describe, expect, it } from 'vitest';
import { parsePolicy, VouchError } from '#core/index.ts';

const valid = `
version: 1
signers:
  release:
    - registry: true
    - issuer: https://token.actions.githubusercontent.com
      identityRegexp: https://github\\.com/acme/.+
rules:
  - name: releases
    match: ["releases/**"]
    exclude: ["releases/tmp/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [release]
`;

const errorOf = (text: string) => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return (error as VouchError).message;
  }
  throw new Error('expected the policy to be refused');
};

describe('#parsePolicy', () => {
  it('compiles a valid YAML policy with globs, exclusions and a digest of its bytes', () => {
    const policy = parsePolicy(valid);
    expect(policy.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(policy.rules[0]?.matches('releases/v1/app.tar.gz')).toBe(true);
    expect(policy.rules[0]?.matches('releases/tmp/x')).toBe(false);
    expect(policy.rules[0]?.matches('docs/x')).toBe(false);
    expect(policy.rules[0]?.mode).toBe('enforce');
  });

  it('accepts the same policy written as JSON', () => {
    const policy = parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [{ name: 'a', match: ['**'], require: [{ type: 'x', signers: [{ registry: true }] }] }],
      }),
    );
    expect(policy.rules).toHaveLength(1);
  });

  it.each([
    ['a missing version', 'rules: []', /must have required property 'version'/],
    ['an unknown field', `${valid}\nextra: 1`, /must NOT have additional properties/],
    [
      'a bad mode',
      valid.replace('version: 1', 'version: 1\nmode: warn'),
      /\/mode must be equal to one of the allowed values/,
    ],
    [
      'an unknown signer group',
      valid.replace('signers: [release]', 'signers: [nobody]'),
      /unknown signer group "nobody"/,
    ],
    ['an invalid regexp', valid.replace('https://github\\.com/acme/.+', '(('), /identityRegexp/],
    [
      'an invalid PEM key',
      valid.replace('- registry: true', '- publicKey: not-a-key'),
      /not a PEM public key/,
    ],
    ['invalid YAML', 'version: [1', /not valid YAML/],
    [
      'a zero threshold',
      valid.replace('signers: [release]', 'signers: [release]\n        threshold: 0'),
      /threshold must be >= 1/,
    ],
  ])('refuses %s with a message that says where', (_what, text, message) => {
    expect(errorOf(text)).toMatch(message);
  });

  it('refuses YAML alias bombs', () => {
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nversion: 1\nrules: []`;
    expect(errorOf(bomb)).toMatch(/not valid YAML/);
  });
});
