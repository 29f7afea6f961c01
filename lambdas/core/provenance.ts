import { isRecord } from './json.ts';
import type { Statement } from './statement.ts';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';

/** The build type `vouch sign` writes: its source is `externalParameters.source.uri`. */
export const VOUCH_GENERIC_BUILD_TYPE = 'https://vouch.dev/build/generic/v1';

/**
 * Longest string taken from a predicate. Builder IDs and repository URIs are a few hundred characters;
 * anything longer is refused before any matching, so no predicate can make a check expensive.
 */
export const MAX_PREDICATE_STRING = 2048;

type Fields = Readonly<Record<string, unknown>>;

/**
 * Where each SLSA v1 build type names the source it built, as slsa-verifier reads it. Only the build's
 * own source counts: `resolvedDependencies` lists everything the build fetched, so a fork's build that
 * merely depends on the real repository must not pass for it. Unknown build types have no source.
 */
export const SOURCE_FIELDS_V1: Readonly<
  Record<string, { readonly field: string; read(ext: Fields): unknown }>
> = {
  'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1': {
    field: 'externalParameters.workflow.repository',
    read: (ext) => asRecord(ext.workflow).repository,
  },
  'https://actions.github.io/buildtypes/workflow/v1': {
    field: 'externalParameters.workflow.repository',
    read: (ext) => asRecord(ext.workflow).repository,
  },
  'https://slsa-framework.github.io/container-based-build/v0.1?draft': {
    field: 'externalParameters.source.uri',
    read: (ext) => asRecord(ext.source).uri,
  },
  'https://vouch.dev/build/generic/v1': {
    field: 'externalParameters.source.uri',
    read: (ext) => asRecord(ext.source).uri,
  },
};

export interface ProvenanceFacts {
  readonly builderId?: string;
  readonly buildType?: string;
  /** The source repository the build says it built, normalised (no `git+`, no `@ref`, no `.git`). */
  readonly source?: string;
  /** Why `source` is absent: an unknown build type, a missing field, an oversized value. */
  readonly sourceProblem?: string;
  /** Why `builderId` is absent. */
  readonly builderProblem?: string;
}

/** Builder and source of a SLSA provenance statement (v1 or v0.2); undefined for other predicates. */
export function provenanceFacts(statement: Statement): ProvenanceFacts | undefined {
  const predicate = statement.predicate ?? {};
  if (statement.predicateType === SLSA_PROVENANCE_V1) {
    const buildDefinition = asRecord(predicate.buildDefinition);
    const buildType = bounded(buildDefinition.buildType, 'buildDefinition.buildType');
    const builder = bounded(asRecord(asRecord(predicate.runDetails).builder).id, 'runDetails.builder.id');
    const known = buildType.value === undefined ? undefined : SOURCE_FIELDS_V1[buildType.value];
    const source = known
      ? bounded(known.read(asRecord(buildDefinition.externalParameters)), `buildDefinition.${known.field}`)
      : {
          problem:
            buildType.problem ??
            `build type ${JSON.stringify(buildType.value)} does not say which field names its source`,
        };
    return facts(builder, source, buildType.value);
  }
  if (statement.predicateType === SLSA_PROVENANCE_V02) {
    const builder = bounded(asRecord(predicate.builder).id, 'builder.id');
    const source = bounded(
      asRecord(asRecord(predicate.invocation).configSource).uri,
      'invocation.configSource.uri',
    );
    const buildType = bounded(predicate.buildType, 'buildType');
    return facts(builder, source, buildType.value);
  }
  return undefined;
}

function facts(builder: Bounded, source: Bounded, buildType: string | undefined): ProvenanceFacts {
  return {
    ...(builder.value !== undefined ? { builderId: builder.value } : { builderProblem: builder.problem }),
    ...(source.value !== undefined
      ? { source: normaliseRepository(source.value) }
      : { sourceProblem: source.problem }),
    ...(buildType !== undefined ? { buildType } : {}),
  };
}

interface Bounded {
  readonly value?: string;
  readonly problem?: string;
}

function bounded(value: unknown, field: string): Bounded {
  if (typeof value !== 'string' || value === '') return { problem: `no ${field}` };
  if (value.length > MAX_PREDICATE_STRING)
    return { problem: `${field} is ${value.length} characters long (at most ${MAX_PREDICATE_STRING})` };
  return { value };
}

const SCHEME = /^[a-z][a-z0-9+.-]*$/i;

/**
 * `https://github.com/acme/app` matches `git+https://github.com/acme/app.git@refs/heads/main`: the
 * repository is compared, the ref is a separate concern (pin it through the builder ID or identity).
 * Linear in the input, whatever it holds: no backtracking pattern sees a predicate string.
 */
export function normaliseRepository(uri: string): string {
  let value = uri.startsWith('git+') ? uri.slice(4) : uri;
  const schemeEnd = value.indexOf('://');
  if (schemeEnd > 0 && SCHEME.test(value.slice(0, schemeEnd))) {
    // The ref starts at the first '@' after the host: `ssh://git@host/...` keeps its userinfo.
    const pathStart = value.indexOf('/', schemeEnd + 3);
    const at = pathStart < 0 ? -1 : value.indexOf('@', pathStart);
    if (at >= 0) value = value.slice(0, at);
  }
  if (value.endsWith('.git')) value = value.slice(0, -4);
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 0x2f) end--;
  return value.slice(0, end);
}

export interface BuildFacts {
  readonly builderId: string;
  /** @default VOUCH_GENERIC_BUILD_TYPE */
  readonly buildType?: string;
  /** The repository built (`externalParameters.source.uri`, and a resolved dependency). */
  readonly sourceUri?: string;
  /** The commit built, as `gitCommit`. */
  readonly revision?: string;
  readonly invocationId?: string;
  readonly startedOn?: Date;
}

/**
 * A SLSA provenance v1 predicate for these build facts: the one builder `vouch sign`, the local stack's
 * demo and the tests use, so what they sign is what the verifier reads (SOURCE_FIELDS_V1).
 */
export function slsaProvenance(facts: BuildFacts): Record<string, unknown> {
  const source = facts.sourceUri
    ? { uri: facts.sourceUri, ...(facts.revision ? { digest: { gitCommit: facts.revision } } : {}) }
    : undefined;
  return {
    buildDefinition: {
      buildType: facts.buildType ?? VOUCH_GENERIC_BUILD_TYPE,
      externalParameters: source ? { source } : {},
      resolvedDependencies: source ? [source] : [],
    },
    runDetails: {
      builder: { id: facts.builderId },
      metadata: {
        ...(facts.invocationId ? { invocationId: facts.invocationId } : {}),
        ...(facts.startedOn ? { startedOn: facts.startedOn.toISOString() } : {}),
      },
    },
  };
}

/**
 * Builder IDs match exactly, or an allowed ID without a ref matches any ref of it, as slsa-verifier
 * does: `…/generator_generic_slsa3.yml` allows `…/generator_generic_slsa3.yml@refs/tags/v2.0.0`.
 */
export function builderIdAllowed(actual: string, allowed: readonly string[]): boolean {
  return allowed.some((id) => actual === id || (!id.includes('@') && actual.startsWith(`${id}@`)));
}

const asRecord = (value: unknown): Fields => (isRecord(value) ? value : {});
