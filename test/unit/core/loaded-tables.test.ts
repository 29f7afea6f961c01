import { X509Certificate } from '@sigstore/core';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ISSUER, statementAbout } from '../../helpers/decide.ts';
import { DEFAULT_IDENTITY, keylessBundle } from '../../helpers/sigstore/index.ts';

// What the core fixes when a module loads: predicate types, build-type tables, name and scheme patterns,
// the policy's type names, the Fulcio arcs. Each test imports the policy module (and with it what it
// loads) afresh under the mutation run (Vite's module runner, which `vi.resetModules` resets), so the
// values it checks are those its own load produced while a mutant was active: a value computed only at
// load, before any test, is a mutant no test is said to cover. Under `npm test` (Node's own module
// loader, which nothing resets) the import is the module already loaded: the same values, checked alike.
// Only modules policy.ts loads are imported so.
type Core = typeof import('../../../lambdas/core/policy.ts') &
  typeof import('../../../lambdas/core/provenance.ts') &
  typeof import('../../../lambdas/core/certificate-claims.ts');
let core: Core;
beforeEach(async () => {
  vi.resetModules();
  core = {
    ...(await import('../../../lambdas/core/policy.ts')),
    ...(await import('../../../lambdas/core/provenance.ts')),
    ...(await import('../../../lambdas/core/certificate-claims.ts')),
  };
});

const statement = (predicateType: string, predicate: Record<string, unknown>) => ({
  _type: 'https://in-toto.io/Statement/v1',
  subject: [],
  predicateType,
  predicate,
});
const v1 = (buildType: string, externalParameters: Record<string, unknown>) =>
  statement('https://slsa.dev/provenance/v1', {
    buildDefinition: { buildType, externalParameters },
    runDetails: { builder: { id: 'https://builder.example/b' } },
  });

describe('SLSA provenance, as the predicate types and build types name it', () => {
  it.each([
    [
      'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
      { workflow: { repository: 'https://github.com/acme/app' } },
      'externalParameters.workflow.repository',
    ],
    [
      'https://actions.github.io/buildtypes/workflow/v1',
      { workflow: { repository: 'https://github.com/acme/app' } },
      'externalParameters.workflow.repository',
    ],
    [
      'https://slsa-framework.github.io/container-based-build/v0.1?draft',
      { source: { uri: 'git+https://github.com/acme/app@refs/heads/main' } },
      'externalParameters.source.uri',
    ],
    [
      'https://vouch.dev/build/generic/v1',
      { source: { uri: 'https://github.com/acme/app.git' } },
      'externalParameters.source.uri',
    ],
  ])('v1 build type %s names its source at its own field', (buildType, external, field) => {
    expect(core.provenanceFacts(v1(buildType, external) as never)).toStrictEqual({
      builderId: 'https://builder.example/b',
      buildType,
      source: 'https://github.com/acme/app',
    });
    expect(core.provenanceFacts(v1(buildType, {}) as never)).toStrictEqual({
      builderId: 'https://builder.example/b',
      buildType,
      sourceProblem: `no buildDefinition.${field}`,
    });
  });

  it('reads v0.2 provenance: builder, config source and build type, and says which field is missing', () => {
    const v02 = (predicate: Record<string, unknown>) =>
      core.provenanceFacts(statement('https://slsa.dev/provenance/v0.2', predicate) as never);
    expect(
      v02({
        builder: { id: 'https://builder.example/b' },
        buildType: 'https://build.example/t',
        invocation: { configSource: { uri: 'git+https://github.com/acme/app@refs/tags/v1' } },
      }),
    ).toStrictEqual({
      builderId: 'https://builder.example/b',
      buildType: 'https://build.example/t',
      source: 'https://github.com/acme/app',
    });
    expect(v02({})).toStrictEqual({
      builderProblem: 'no builder.id',
      sourceProblem: 'no invocation.configSource.uri',
    });
  });

  it('has no facts for another predicate type', () => {
    expect(core.provenanceFacts(statement('https://example.com/other', {}) as never)).toBeUndefined();
  });

  it("writes Vouch's generic build type when `vouch sign` is given none", () => {
    expect(core.slsaProvenance({ builderId: 'b' })).toMatchObject({
      buildDefinition: { buildType: 'https://vouch.dev/build/generic/v1' },
    });
  });
});

describe('#normaliseRepository, which strips a ref only after a URL scheme', () => {
  it.each([
    ['https://github.com/acme/app@refs/heads/main', 'https://github.com/acme/app'],
    ['git+ssh://git@github.com/acme/app.git@v1', 'ssh://git@github.com/acme/app'],
    ['svn+ssh://host/acme/app@7', 'svn+ssh://host/acme/app'],
    // Not a scheme: it starts with a digit, holds `_`, or there is none.
    ['9x://host/acme/app@v1', '9x://host/acme/app@v1'],
    ['ht_tp://host/acme/app@v1', 'ht_tp://host/acme/app@v1'],
    ['github.com/acme/app@v1', 'github.com/acme/app@v1'],
    ['https://github.com/acme/app///', 'https://github.com/acme/app'],
  ])('%s is %s', (uri, repository) => {
    expect(core.normaliseRepository(uri)).toBe(repository);
  });
});

describe("the policy's type names", () => {
  const compile = (requirement: Record<string, unknown>) =>
    core.compilePolicy(
      {
        version: 1,
        rules: [{ name: 'r', match: ['**'], require: [{ signers: [{ registry: true }], ...requirement }] }],
      } as never,
      'sha256:test',
      'policy.yaml',
    );

  it('builder and source checks apply to both SLSA provenance types, and to nothing else', () => {
    const builderIds = ['https://builder.example/b'];
    for (const type of ['https://slsa.dev/provenance/v1', 'https://slsa.dev/provenance/v0.2']) {
      expect(compile({ type, builderIds }).rules[0]?.requirements[0]?.builderIds).toEqual(builderIds);
    }
    expect(() =>
      compile({
        type: ['https://slsa.dev/provenance/v1', 'https://example.com/sbom', 'https://example.com/vex'],
        builderIds,
        sourceRepositories: ['https://github.com/acme/app'],
      }),
    ).toThrow(
      'policy.yaml: /rules/0/require/0: builderIds and sourceRepositories check SLSA provenance (https://slsa.dev/provenance/v1, https://slsa.dev/provenance/v0.2) only, but type also accepts "https://example.com/sbom", "https://example.com/vex"; list the other types in a requirement of their own',
    );
  });

  it('statement checks are refused where `signature` or `*` lets a plain signature meet the requirement', () => {
    expect(() => compile({ type: 'signature', requireSubjectName: true })).toThrow(
      'policy.yaml: /rules/0/require/0: requireSubjectName needs statements, but type accepts "signature" (plain signatures carry no statement)',
    );
    expect(() =>
      compile({ type: ['*', 'signature'], requireSubjectName: true, conditions: ['true'] }),
    ).toThrow(
      'policy.yaml: /rules/0/require/0: requireSubjectName and conditions need statements, but type accepts "*", "signature" (plain signatures carry no statement)',
    );
  });
});

describe('signer group names', () => {
  it('must start with a letter or digit', async () => {
    const text = `version: 1
signers:
  -release: [{ registry: true }]
rules: [{ name: r, match: ["**"], require: [{ type: "*", signers: [{ registry: true }] }] }]
`;
    await expect(core.parsePolicyAsync(text, 'policy.yaml')).rejects.toThrow(
      'policy.yaml: /signers must match pattern "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"',
    );
  });
});

describe('certificate claim globs', () => {
  const sourceRef = (pattern: string) => {
    const check = core.compileClaimRequirements({ sourceRef: pattern }, '/signers/s/0');
    if (!check) throw new Error('no check compiled');
    return (ref: string) => check({ sourceRepositoryRef: ref });
  };

  it('match a plain ref, and parentheses literally', () => {
    expect(sourceRef('refs/tags/v*')('refs/tags/v1')).toBeUndefined();
    expect(sourceRef('refs/tags/v(1|2)')('refs/tags/v(1|2)')).toBeUndefined();
    expect(sourceRef('refs/tags/v(1|2)')('refs/tags/v1')).toBe(
      'source ref "refs/tags/v1" does not match refs/tags/v(1|2)',
    );
  });

  it('are refused, naming where, when they hold a backslash', () => {
    expect(() => sourceRef('refs\\/tags/*')).toThrow(
      '/signers/s/0/sourceRef: "refs\\\\/tags/*" contains a control, bidirectional or backslash character',
    );
  });

  it('are refused as extended globs', () => {
    expect(() => sourceRef('refs/tags/@(a|b)')).toThrow(/uses an extended glob/);
  });
});

describe('certificate claims, read at the Fulcio arcs', () => {
  it('reads the source ref and runner a GitHub Actions certificate carries', () => {
    const bundle = keylessBundle({
      content: { statement: statementAbout() },
      identity: {
        ...DEFAULT_IDENTITY,
        issuer: ISSUER,
        github: { sourceRepositoryRef: 'refs/tags/v1', runnerEnvironment: 'github-hosted' },
      },
    });
    const raw = bundle.verificationMaterial.certificate?.rawBytes;
    if (!raw) throw new Error('a v0.3 keyless bundle carries its certificate');
    expect(core.certificateClaims(X509Certificate.parse(Buffer.from(raw, 'base64')))).toEqual({
      sourceRepositoryRef: 'refs/tags/v1',
      runnerEnvironment: 'github-hosted',
    });
  });
});
