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

  it('refuses invalid YAML as a parse error once the parser is loaded', async () => {
    await expect(policy.parsePolicyAsync('version: [1', 'policy.yaml')).rejects.toMatchObject({
      code: 'PARSE_ERROR',
      message: expect.stringMatching(/^policy\.yaml: not valid YAML/),
    });
  });
});
