import { describe, expect, it } from 'vitest';
import {
  keyIdOf,
  loadPolicySyntax,
  namedInstances,
  namedKeys,
  parsePolicy,
  VouchError,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first.
await loadPolicySyntax();

const refusal = (text: string) => {
  try {
    parsePolicy(text, 'policy');
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return error as VouchError;
  }
  throw new Error('expected the policy to be refused');
};

let rules = 0;
/** A rule (named r1, r2, …) over every key, requiring provenance from `signers`. */
const rule = (signers: string, extra = '') => `
  - name: r${++rules}
    match: ["**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: ${signers}${extra}`;

describe('#parsePolicy, bounds on what a policy file can make the parser do', () => {
  /** A policy whose signer group `release` is referenced through `count` YAML aliases. */
  const aliased = (count: number) =>
    [
      'version: 1',
      'signers:',
      '  release: &release [{ registry: true }]',
      ...Array.from({ length: count }, (_, i) => `  g${i}: *release`),
      `rules:${rule('[release]')}`,
    ].join('\n');

  it('reads up to 63 YAML aliases, and refuses 64 (anchor expansion, "billion laughs")', () => {
    expect(parsePolicy(aliased(63)).rules).toHaveLength(1);
    expect(refusal(aliased(64))).toMatchObject({ code: 'PARSE_ERROR', message: /not valid YAML/ });
  });

  it('reads a policy starting with `{` (after any whitespace) as JSON, nested at most 32 deep', () => {
    const nested = (depth: number) =>
      `\n  {"version": 1, "rules": [], "x": ${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    expect(refusal(nested(33))).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    // Within the bound, the JSON reaches the schema, which refuses the unknown key.
    expect(refusal(nested(32))).toMatchObject({ code: 'PARSE_ERROR', message: /unknown key "x"/ });
  });
});

describe('#parsePolicy, thresholds', () => {
  it('allows a threshold above the number of entries when one of them is an open set (the registry)', () => {
    const text = `version: 1\nrules:${rule('[{ registry: true }, { keyId: k1 }]', '\n        threshold: 3')}`;
    expect(parsePolicy(text).rules[0]?.requirements[0]?.threshold).toBe(3);
  });

  it('refuses it when every entry is one signer', () => {
    const text = `version: 1\nrules:${rule('[{ keyId: k1 }, { keyId: k2 }]', '\n        threshold: 3')}`;
    expect(refusal(text).message).toMatch(/threshold 3 can never be met by 2 allowed signer/);
  });
});

describe('what a verifier must look up for a policy', () => {
  const inline = testKey();
  const policy = parsePolicy(`version: 1
rules:${rule('[{ registry: true }, { keyId: k1 }, { issuer: https://issuer.example, identity: a@example.com }]')}${rule(
    `[{ keyId: k1 }, { publicKey: ${JSON.stringify(inline.publicKeyPem)} }, { issuer: https://issuer.example, identity: b@example.com, instance: [github, staging] }]`,
  )}`);

  it('#namedKeys: each key the policy names by ID or writes inline, once', () => {
    expect(namedKeys(policy)).toEqual(['k1', keyIdOf(inline.publicKey)]);
  });

  it('#namedInstances: each Sigstore instance its keyless signers trust, once', () => {
    expect(namedInstances(policy)).toEqual(['public-good', 'github', 'staging']);
  });
});
