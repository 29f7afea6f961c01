import { beforeEach, describe, expect, it, vi } from 'vitest';

// What a verifier cold start loads to read its policy. Each test imports the policy module afresh, so
// whether the YAML parser and schema check are loaded is that test's own doing.
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

  it('ignores that document for any other bytes: they need the parser and the schema check', () => {
    const other = YAML.replace('releases/**', '**');
    const read = vi.fn(() => DOCUMENT);
    expect(() =>
      policy.parsePolicy(other, 'policy.yaml', {
        schemaValidated: policy.policyDigest(YAML),
        validatedDocument: read,
      }),
    ).toThrow(policy.PolicySyntaxNotLoaded);
    expect(read).not.toHaveBeenCalled();
  });

  it('does not skip the schema check of JSON bytes synth did not validate', () => {
    expect(() => policy.parsePolicy(DOCUMENT, 'policy.json')).toThrow(policy.PolicySyntaxNotLoaded);
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
