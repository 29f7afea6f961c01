import { describe, expect, it } from 'vitest';
import {
  builderIdAllowed,
  createStatement,
  MAX_PREDICATE_STRING,
  normaliseRepository,
  provenanceFacts,
  SLSA_PROVENANCE_V1,
  SLSA_PROVENANCE_V02,
  slsaProvenance,
  VOUCH_GENERIC_BUILD_TYPE,
} from '#core/index.ts';

const v1 = (predicate: Record<string, unknown>, type = SLSA_PROVENANCE_V1) =>
  createStatement([{ name: 'a', digests: { sha256: 'a'.repeat(64) } }], type, predicate);
const BUILDER = 'https://github.com/acme/builder/.github/workflows/build.yml';

describe('#provenanceFacts', () => {
  it('reads nothing from a predicate that is not SLSA provenance', () => {
    expect(provenanceFacts(v1({ builder: { id: BUILDER } }, 'https://spdx.dev/Document'))).toBeUndefined();
  });

  it('says why the builder is missing instead of naming one, and leaves out an absent build type', () => {
    expect(provenanceFacts(v1({}))).toEqual({
      builderProblem: 'no runDetails.builder.id',
      sourceProblem: 'no buildDefinition.buildType',
    });
  });

  it('treats an empty builder ID as none', () => {
    const facts = provenanceFacts(v1({ runDetails: { builder: { id: '' } } }));
    expect(facts).not.toHaveProperty('builderId');
    expect(facts?.builderProblem).toMatch(/^no runDetails\.builder\.id$/);
  });

  it(`reads a builder ID of exactly ${MAX_PREDICATE_STRING} characters, and refuses a longer one`, () => {
    const id = (length: number) => `${BUILDER}/${'x'.repeat(length - BUILDER.length - 1)}`;
    const read = (length: number) => provenanceFacts(v1({ runDetails: { builder: { id: id(length) } } }));
    expect(read(MAX_PREDICATE_STRING)?.builderId).toBe(id(MAX_PREDICATE_STRING));
    expect(read(MAX_PREDICATE_STRING + 1)).not.toHaveProperty('builderId');
  });
});

describe('#slsaProvenance, what `vouch sign` writes', () => {
  it('is read back by #provenanceFacts as the builder and source it was given', () => {
    const predicate = slsaProvenance({
      builderId: BUILDER,
      sourceUri: 'git+https://github.com/acme/app@refs/heads/main',
      revision: 'c'.repeat(40),
      invocationId: 'run-7',
      startedOn: new Date('2026-06-01T00:00:00Z'),
    });
    expect(predicate).toEqual({
      buildDefinition: {
        buildType: VOUCH_GENERIC_BUILD_TYPE,
        externalParameters: {
          source: {
            uri: 'git+https://github.com/acme/app@refs/heads/main',
            digest: { gitCommit: 'c'.repeat(40) },
          },
        },
        resolvedDependencies: [
          { uri: 'git+https://github.com/acme/app@refs/heads/main', digest: { gitCommit: 'c'.repeat(40) } },
        ],
      },
      runDetails: {
        builder: { id: BUILDER },
        metadata: { invocationId: 'run-7', startedOn: '2026-06-01T00:00:00.000Z' },
      },
    });
    expect(provenanceFacts(v1(predicate))).toEqual({
      builderId: BUILDER,
      buildType: VOUCH_GENERIC_BUILD_TYPE,
      source: 'https://github.com/acme/app',
    });
  });

  it('names no source when given none, and the build type it is given', () => {
    const predicate = slsaProvenance({ builderId: BUILDER, buildType: 'https://example.com/other/v1' });
    expect(predicate.buildDefinition).toEqual({
      buildType: 'https://example.com/other/v1',
      externalParameters: {},
      resolvedDependencies: [],
    });
    expect(predicate.runDetails).toEqual({ builder: { id: BUILDER }, metadata: {} });
  });
});

describe('#normaliseRepository, where there is no scheme or no path', () => {
  it.each([
    // Without a scheme nothing is read as a ref: the value is compared as written.
    ['github.com/acme/app@refs/heads/main', 'github.com/acme/app@refs/heads/main'],
    ['-x://host/acme/app@ref', '-x://host/acme/app@ref'],
    // Without a path, an '@' is userinfo, never a ref.
    ['ssh://git@github.com', 'ssh://git@github.com'],
    ['https://github.com', 'https://github.com'],
  ])('%s → %s', (uri, expected) => {
    expect(normaliseRepository(uri)).toBe(expected);
  });
});

describe('#builderIdAllowed over several allowed IDs', () => {
  it('allows an exact match of any of them, refs included', () => {
    const pinned = `${BUILDER}@refs/tags/v2`;
    expect(builderIdAllowed(pinned, ['https://example.com/other', pinned])).toBe(true);
    expect(builderIdAllowed(`${BUILDER}@refs/tags/v3`, ['https://example.com/other', BUILDER])).toBe(true);
  });

  it('reads v0.2 provenance too', () => {
    const facts = provenanceFacts(
      v1(
        { builder: { id: BUILDER }, invocation: { configSource: { uri: 'https://github.com/acme/app' } } },
        SLSA_PROVENANCE_V02,
      ),
    );
    expect(facts).toEqual({ builderId: BUILDER, source: 'https://github.com/acme/app' });
  });
});
