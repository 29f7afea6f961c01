import { beforeEach, describe, expect, it, vi } from 'vitest';

// What a policy file that the schema refuses is told, and how the policy module loads what it needs.
// Each test imports the policy module afresh under the mutation run (Vite's module runner, which
// `vi.resetModules` resets), so the schema validator it compiles, with its options, is that test's own
// and a module-scope change made by an active mutant is the one it sees. Under `npm test` (Node's own
// module loader, which nothing resets) the import is the module already loaded: the same messages,
// checked alike.
type PolicyModule = typeof import('../../../lambdas/core/policy.ts');
let policy: PolicyModule;
beforeEach(async () => {
  vi.resetModules();
  policy = await import('../../../lambdas/core/policy.ts');
});

const YAML = `version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [{ keyId: "sha256:${'a'.repeat(64)}" }]
`;

describe('#parsePolicyAsync, what it loads', () => {
  it('loads the condition engine (and the parser) when the policy has conditions', async () => {
    const withConditions = YAML.replace(
      '        signers:',
      '        conditions: ["predicate.buildType == \'x\'"]\n        signers:',
    );
    expect(withConditions).toContain('conditions:');
    const compiled = await policy.parsePolicyAsync(withConditions, 'policy.yaml');
    expect(compiled.rules[0]?.requirements[0]?.conditions).toHaveLength(1);
  });
});

describe('#parsePolicyAsync, what the schema check says of a policy it refuses', () => {
  const SHAPES =
    '{ registry: true }, { registry: { pipeline } }, { keyId }, { publicKey }, { issuer, identity } or { issuer, identityRegexp }';
  const withSigners = (group: string, ruleSigners = '[release]', extra = '') => `version: 1
${extra}signers:
  release: ${group}
rules:
  - name: r
    match: ["**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: ${ruleSigners}
`;
  const refusal = async (text: string) => {
    const error = await policy.parsePolicyAsync(text, 'p.yaml').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PARSE_ERROR' });
    return (error as Error).message;
  };

  it('names the keys a signer entry has, when it has any', async () => {
    expect(await refusal(withSigners('[{ issuer: x }]'))).toBe(
      `p.yaml: /signers/release/0 is not a signer: write ${SHAPES}; found keys issuer`,
    );
    expect(await refusal(withSigners('[{ registry: 5 }]'))).toBe(
      `p.yaml: /signers/release/0 is not a signer: write ${SHAPES}; found keys registry`,
    );
    expect(await refusal(withSigners('[{ issuer: x, keyId: k }]'))).toBe(
      `p.yaml: /signers/release/0 is not a signer: write ${SHAPES}; found keys issuer, keyId`,
    );
  });

  it('names no keys for an entry that is a string, an array or null', async () => {
    for (const entry of ['"x"', '[a, b]', 'null']) {
      expect(await refusal(withSigners(`[${entry}]`))).toBe(
        `p.yaml: /signers/release/0 is not a signer: write ${SHAPES}`,
      );
    }
  });

  it('names the entry by its index, however many digits it has', async () => {
    const group = `[${Array(10).fill('{ registry: true }').join(', ')}, { issuer: x }]`;
    expect(await refusal(withSigners(group))).toBe(
      `p.yaml: /signers/release/10 is not a signer: write ${SHAPES}; found keys issuer`,
    );
  });

  it('offers a group name where a rule lists signers', async () => {
    expect(await refusal(withSigners('[{ registry: true }]', '[{ issuer: x }]'))).toBe(
      `p.yaml: /rules/0/require/0/signers/0 is not a signer: write a signer group name, ${SHAPES}; found keys issuer`,
    );
  });

  it('says what is wrong with a signer group that is not an entry', async () => {
    expect(await refusal(withSigners('[]'))).toBe(
      'p.yaml: /signers/release must NOT have fewer than 1 items',
    );
  });

  it('reports the first problem only, with the values allowed there', async () => {
    expect(await refusal(withSigners('[{ issuer: x }]', '[release]', 'mode: warn\n'))).toBe(
      'p.yaml: /mode must be equal to one of the allowed values ["enforce","audit"]',
    );
  });

  it('lists the keys allowed where an unknown one is', async () => {
    expect(await refusal(withSigners('[{ registry: true }]', '[release]', 'extra: 1\n'))).toBe(
      'p.yaml: (root) has an unknown key "extra"; allowed there: version, mode, noMatch, signers, rules, exceptions',
    );
  });

  it("keeps the YAML parser's error as the cause", async () => {
    const error = await policy.parsePolicyAsync('version: [1', 'p.yaml').catch((e: unknown) => e);
    expect((error as Error).cause).toMatchObject({ name: 'YAMLParseError' });
  });
});

describe('#parsePolicy, before the syntax is loaded', () => {
  it('is refused with an error that says how to load it', () => {
    const error = new policy.PolicySyntaxNotLoaded();
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'PolicySyntaxNotLoaded',
      message:
        'the policy needs the YAML parser or the schema check, not loaded: load them with parsePolicyAsync',
    });
  });

  it('names a policy "policy" when it is given no name', async () => {
    await expect(policy.parsePolicyAsync('version: [1')).rejects.toThrow(/^policy: not valid YAML/);
    expect(() => policy.parsePolicy('version: [1')).toThrow(/^policy: not valid YAML/);
    expect(() =>
      policy.compilePolicy({ version: 1, rules: [{ name: 'r', match: ['/x'], require: [] }] }, 'd'),
    ).toThrow(/^policy: \/rules\/0\/match\/0: /);
  });
});
