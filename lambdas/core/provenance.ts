import { isRecord } from './json.ts';
import type { Statement } from './statement.ts';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';

export interface ProvenanceFacts {
  readonly builderId?: string;
  /** Source repositories the build says it came from, normalised (no `git+`, no `@ref`, no `.git`). */
  readonly sourceRepositories: readonly string[];
}

/** Builder and source of a SLSA provenance statement (v1 or v0.2); undefined for other predicates. */
export function provenanceFacts(statement: Statement): ProvenanceFacts | undefined {
  const predicate = statement.predicate ?? {};
  if (statement.predicateType === SLSA_PROVENANCE_V1) {
    const runDetails = asRecord(predicate.runDetails);
    const buildDefinition = asRecord(predicate.buildDefinition);
    const externalParameters = asRecord(buildDefinition.externalParameters);
    const workflow = asRecord(externalParameters.workflow);
    const dependencies = Array.isArray(buildDefinition.resolvedDependencies)
      ? buildDefinition.resolvedDependencies
      : [];
    return {
      builderId: asString(asRecord(runDetails.builder).id),
      sourceRepositories: normaliseAll([
        asString(workflow.repository),
        asString(asRecord(externalParameters.source).uri),
        ...dependencies.map((dependency) => asString(asRecord(dependency).uri)),
      ]),
    };
  }
  if (statement.predicateType === SLSA_PROVENANCE_V02) {
    const invocation = asRecord(predicate.invocation);
    const materials = Array.isArray(predicate.materials) ? predicate.materials : [];
    return {
      builderId: asString(asRecord(predicate.builder).id),
      sourceRepositories: normaliseAll([
        asString(asRecord(invocation.configSource).uri),
        ...materials.map((material) => asString(asRecord(material).uri)),
      ]),
    };
  }
  return undefined;
}

/**
 * `https://github.com/acme/app` matches `git+https://github.com/acme/app.git@refs/heads/main`: the
 * repository is compared, the ref is a separate concern (pin it through the builder ID or identity).
 */
export function normaliseRepository(uri: string): string {
  const withoutScheme = uri.replace(/^git\+/, '');
  // The ref starts at the first '@' after the host: `https://user@host/...` keeps its userinfo.
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/]*\/[^@]*)@.*$/i.exec(withoutScheme);
  return (match?.[1] ?? withoutScheme).replace(/\.git$/, '').replace(/\/+$/, '');
}

/**
 * Builder IDs match exactly, or an allowed ID without a ref matches any ref of it, as slsa-verifier
 * does: `…/generator_generic_slsa3.yml` allows `…/generator_generic_slsa3.yml@refs/tags/v2.0.0`.
 */
export function builderIdAllowed(actual: string, allowed: readonly string[]): boolean {
  return allowed.some((id) => actual === id || (!id.includes('@') && actual.startsWith(`${id}@`)));
}

function normaliseAll(uris: readonly (string | undefined)[]): string[] {
  return [
    ...new Set(uris.filter((uri): uri is string => uri !== undefined && uri !== '').map(normaliseRepository)),
  ];
}

const asRecord = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
