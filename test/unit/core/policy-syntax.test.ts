import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import * as policy from '../../../lambdas/core/policy.ts';

// What a verifier cold start loads to read its policy. Whether the YAML parser and schema check are
// loaded is a process's state (another test in this worker may have loaded them): what must hold with
// nothing loaded runs in a fresh Node process, as a cold start is.
const POLICY_MODULE = new URL('../../../lambdas/core/policy.ts', import.meta.url).href;

/** Runs `body` in a fresh Node process with the policy module as `policy`; returns what it prints. */
async function coldStart(body: string): Promise<unknown> {
  const script = `import * as policy from ${JSON.stringify(POLICY_MODULE)};\n${body}`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  return JSON.parse(stdout);
}
/** In the child: what `parsePolicy` did with these arguments (`NOT_LOADED`, or its error or spec). */
const OUTCOME = `const outcome = (...args) => {
  try { return { spec: policy.parsePolicy(...args).spec }; }
  catch (error) { return error instanceof policy.PolicySyntaxNotLoaded ? 'NOT_LOADED' : { error: String(error) }; }
};`;

const YAML = `version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [{ keyId: "sha256:${'a'.repeat(64)}" }]
`;
/** The document synth writes beside the file: what parsing YAML gives, as JSON. */
const DOCUMENT = JSON.stringify({
  version: 1,
  rules: [
    {
      name: 'releases',
      match: ['releases/**'],
      require: [{ type: 'https://slsa.dev/provenance/v1', signers: [{ keyId: `sha256:${'a'.repeat(64)}` }] }],
    },
  ],
});

describe('#parsePolicy, with nothing loaded', () => {
  it('compiles the document synth parsed, for exactly the bytes synth validated, recording their digest', () => {
    const read = vi.fn(() => DOCUMENT);
    const compiled = policy.parsePolicy(YAML, 'policy.yaml', {
      schemaValidated: policy.policyDigest(YAML),
      validatedDocument: read,
    });
    expect(read).toHaveBeenCalledOnce();
    expect(compiled.digest).toBe(policy.policyDigest(YAML));
    expect(compiled.rules[0]?.matches('releases/app.tgz')).toBe(true);
    expect(compiled.rules[0]?.matches('docs/app.tgz')).toBe(false);
  });

  it('ignores that document for any other bytes, and without a document needs the parser and schema check', async () => {
    const other = YAML.replace('releases/**', '**');
    const args = JSON.stringify({ YAML, other, DOCUMENT });
    const result = await coldStart(`${OUTCOME}
      const { YAML, other, DOCUMENT } = ${args};
      let reads = 0;
      const options = { schemaValidated: policy.policyDigest(YAML), validatedDocument: () => (reads++, DOCUMENT) };
      const results = {
        other: outcome(other, 'policy.yaml', options),
        readsForOther: reads,
        // JSON bytes synth did not validate are still schema-checked: no shortcut for JSON.
        json: outcome(DOCUMENT, 'policy.json'),
        // The control: the bytes synth validated compile without the parser, from the document.
        validated: outcome(YAML, 'policy.yaml', options),
        readsForValidated: reads,
      };
      console.log(JSON.stringify(results));`);
    expect(result).toEqual({
      other: 'NOT_LOADED',
      readsForOther: 0,
      json: 'NOT_LOADED',
      validated: { spec: JSON.parse(DOCUMENT) },
      readsForValidated: 1,
    });
  });

  it('refuses a document that is not JSON as a parse error, naming it', () => {
    expect(() =>
      policy.parsePolicy(YAML, 'policy.yaml', {
        schemaValidated: policy.policyDigest(YAML),
        validatedDocument: () => YAML,
      }),
    ).toThrow(/policy\.yaml \(as synth parsed it\)/);
  });
});

describe('#parsePolicyAsync', () => {
  it('loads the parser and the schema check when the policy needs them, and decides as the document does', async () => {
    const compiled = await policy.parsePolicyAsync(YAML, 'policy.yaml');
    expect(compiled.digest).toBe(policy.policyDigest(YAML));
    expect(compiled.spec).toEqual(JSON.parse(DOCUMENT));
    // Loaded now: the synchronous parse works too, and still checks the schema.
    expect(() => policy.parsePolicy(`${YAML}extra: 1\n`, 'policy.yaml')).toThrow(/unknown key "extra"/);
  });

  it('loads the condition engine as well when the policy has conditions', async () => {
    const withConditions = YAML.replace(
      '        signers:',
      '        conditions: ["predicate.buildType == \'x\'"]\n        signers:',
    );
    expect(withConditions).toContain('conditions:');
    const compiled = await policy.parsePolicyAsync(withConditions, 'policy.yaml');
    expect(compiled.rules[0]?.requirements[0]?.conditions).toHaveLength(1);
  });

  it('refuses invalid YAML as a parse error once the parser is loaded', async () => {
    await expect(policy.parsePolicyAsync('version: [1', 'policy.yaml')).rejects.toMatchObject({
      code: 'PARSE_ERROR',
      message: expect.stringMatching(/^policy\.yaml: not valid YAML/),
    });
  });
});

describe('#parsePolicyAsync, what the schema check says of a policy it refuses', () => {
  // Each test loads the schema check afresh (see the top of the file): the validator it compiles is that
  // test's own, and so are its options (every error's data and schema, the first error only).
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
  it('says how to load it', () => {
    let error: unknown;
    try {
      policy.parsePolicy(YAML, 'policy.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(policy.PolicySyntaxNotLoaded);
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
