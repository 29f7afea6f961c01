import { describe, expect, it } from 'vitest';
import {
  builderIdAllowed,
  MAX_PREDICATE_STRING,
  normaliseRepository,
  provenanceFacts,
  SLSA_PROVENANCE_V1,
  SLSA_PROVENANCE_V02,
} from '#core/index.ts';

describe('#normaliseRepository', () => {
  it.each([
    ['git+https://github.com/acme/app@refs/heads/main', 'https://github.com/acme/app'],
    ['git+https://github.com/acme/app.git@refs/tags/v1.0.0', 'https://github.com/acme/app'],
    ['https://github.com/acme/app', 'https://github.com/acme/app'],
    ['https://github.com/acme/app/', 'https://github.com/acme/app'],
    ['ssh://git@example.com/acme/app.git', 'ssh://git@example.com/acme/app'],
  ])('%s → %s', (uri, expected) => {
    expect(normaliseRepository(uri)).toBe(expected);
  });
});

describe('#builderIdAllowed', () => {
  const allowed = ['https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder.yml'];
  it('allows any ref of an ID listed without one', () => {
    expect(builderIdAllowed(`${allowed[0]}@refs/tags/v2.0.0`, allowed)).toBe(true);
  });
  it('refuses an ID that only starts with an allowed one', () => {
    expect(builderIdAllowed(`${allowed[0]}.evil@refs/tags/v2.0.0`, allowed)).toBe(false);
  });
  it('pins the ref when the allowed ID has one', () => {
    expect(builderIdAllowed(`${allowed[0]}@refs/tags/v1`, [`${allowed[0]}@refs/tags/v2`])).toBe(false);
  });
});

describe('#normaliseRepository on hostile input', () => {
  it('is linear: a megabyte of slashes is handled in one pass', () => {
    const uri = `https://github.com/${'/'.repeat(1_000_000)}x`;
    expect(normaliseRepository(uri)).toBe(uri);
    expect(normaliseRepository(`https://github.com/acme/app${'/'.repeat(1_000_000)}`)).toBe(
      'https://github.com/acme/app',
    );
  });
});

describe('#provenanceFacts', () => {
  const v1 = (buildType: string, externalParameters: Record<string, unknown>, dependencies: string[] = []) =>
    provenanceFacts({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: 'a'.repeat(64) } }],
      predicateType: SLSA_PROVENANCE_V1,
      predicate: {
        buildDefinition: {
          buildType,
          externalParameters,
          resolvedDependencies: dependencies.map((uri) => ({ uri })),
        },
        runDetails: { builder: { id: 'https://builder.example/b' } },
      },
    });
  const GITHUB = 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';

  it("takes a GitHub Actions build's source from externalParameters.workflow.repository only", () => {
    const facts = v1(GITHUB, { workflow: { repository: 'https://github.com/evil/fork' } }, [
      'git+https://github.com/acme/app@refs/heads/main',
    ]);
    expect(facts?.source).toBe('https://github.com/evil/fork');
  });

  it('has no source when the build type is unknown, and says why', () => {
    const facts = v1('https://example.com/mystery/v1', { source: { uri: 'https://github.com/acme/app' } });
    expect(facts?.source).toBeUndefined();
    expect(facts?.sourceProblem).toMatch(/mystery.*does not say which field names its source/);
  });

  it('has no source when the field is absent, whatever the dependencies say', () => {
    const facts = v1(GITHUB, {}, ['git+https://github.com/acme/app@refs/heads/main']);
    expect(facts?.source).toBeUndefined();
    expect(facts?.sourceProblem).toMatch(/externalParameters\.workflow\.repository/);
  });

  it('refuses a source longer than the limit without matching it', () => {
    const facts = v1(GITHUB, {
      workflow: { repository: `https://github.com/${'a'.repeat(MAX_PREDICATE_STRING)}` },
    });
    expect(facts?.source).toBeUndefined();
    expect(facts?.sourceProblem).toMatch(/characters long/);
  });

  it('takes a v0.2 source from invocation.configSource.uri, never from materials', () => {
    const facts = provenanceFacts({
      _type: 'https://in-toto.io/Statement/v0.1',
      subject: [{ digest: { sha256: 'a'.repeat(64) } }],
      predicateType: SLSA_PROVENANCE_V02,
      predicate: {
        builder: { id: 'https://builder.example/b' },
        materials: [{ uri: 'git+https://github.com/acme/app@refs/heads/main' }],
      },
    });
    expect(facts?.source).toBeUndefined();
    expect(facts?.sourceProblem).toMatch(/invocation\.configSource\.uri/);
  });
});
