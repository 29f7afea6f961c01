import { DEFAULT_SIGNING_KEY_ALIAS } from './defaults.ts';
import type { Policy } from './policy.ts';

/**
 * Pipelines: who may vouch for which object keys. Each pipeline has object-key prefixes it owns, its
 * own upload role (it writes only there) and its own rotating signing key behind its own alias. A key
 * of the registry belongs to one pipeline, and `{ registry: true }` counts only the keys of the
 * pipeline that owns the object key: the CI of one repository cannot vouch for another's bytes.
 */
export interface PipelineScope {
  readonly name: string;
  /** The alias its signing keys rotate behind (keys registered before pipelines are found by it). */
  readonly alias: string;
  /**
   * The object-key prefixes it vouches for, each `a/b/` form. `''` (every key) only for the one
   * pipeline of a stack that predates pipelines: its single alias vouched for everything.
   */
  readonly prefixes: readonly string[];
}

/** Lower-case letters, digits and inner hyphens: it appears in aliases, tags, construct IDs and logs. */
export const PIPELINE_NAME = '^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$';
const PIPELINE_NAME_PATTERN = new RegExp(PIPELINE_NAME);
export const DEFAULT_PIPELINE = 'default';

/** The alias a named pipeline's keys rotate behind. The default pipeline keeps the stack's old alias. */
export const pipelineAlias = (name: string, base = DEFAULT_SIGNING_KEY_ALIAS) => `${base}/${name}`;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Why a prefix cannot scope a pipeline, or undefined. Only plain segments: what IAM matches literally
 * in a resource ARN and a DynamoDB leading key (no `*`, `?`, `$`), and what no object key could read
 * two ways (no empty, `.` or `..` segment).
 */
export function prefixProblem(prefix: string): string | undefined {
  if (prefix.length > 256) return `is ${prefix.length} characters long (at most 256)`;
  if (!prefix.endsWith('/')) return 'must end with "/"';
  const segments = prefix.slice(0, -1).split('/');
  if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..'))
    return 'must be segments of letters, digits, ".", "_" and "-" separated by "/" (no empty, "." or ".." segment, no wildcard)';
  return undefined;
}

/** Checks names, aliases and prefixes, and that no two pipelines' prefixes nest. Throws naming the problem. */
export function validatePipelines<P extends PipelineScope>(pipelines: readonly P[], what = 'pipelines'): P[] {
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message}`);
  };
  if (pipelines.length === 0) fail('at least one pipeline is needed');
  const names = new Set<string>();
  const aliases = new Set<string>();
  for (const pipeline of pipelines) {
    if (!PIPELINE_NAME_PATTERN.test(pipeline.name))
      fail(`${JSON.stringify(pipeline.name)} is not a pipeline name (${PIPELINE_NAME})`);
    if (names.has(pipeline.name)) fail(`pipeline ${pipeline.name} is listed twice`);
    names.add(pipeline.name);
    if (!/^alias\/(?!aws\/)[a-zA-Z0-9/_-]{1,250}$/.test(pipeline.alias))
      fail(`pipeline ${pipeline.name}: alias must look like alias/<name>, found ${pipeline.alias}`);
    if (aliases.has(pipeline.alias)) fail(`alias ${pipeline.alias} belongs to two pipelines`);
    aliases.add(pipeline.alias);
    if (pipeline.prefixes.length === 0) fail(`pipeline ${pipeline.name} has no prefixes`);
    for (const prefix of pipeline.prefixes) {
      if (prefix === '') {
        if (pipelines.length > 1 || pipeline.prefixes.length > 1)
          fail(`pipeline ${pipeline.name}: "" (every key) is only for a stack's one pipeline`);
        continue;
      }
      const problem = prefixProblem(prefix);
      if (problem) fail(`pipeline ${pipeline.name}: prefix ${JSON.stringify(prefix)} ${problem}`);
    }
  }
  // Nested prefixes would give one object key two owners, and the outer pipeline's role could write
  // into the inner one's prefix: refused, within a pipeline too (one of the two says it all).
  const all = pipelines.flatMap((p) => p.prefixes.map((prefix) => ({ name: p.name, prefix })));
  for (const [i, a] of all.entries()) {
    for (const b of all.slice(i + 1)) {
      if (
        a.prefix !== '' &&
        b.prefix !== '' &&
        (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix))
      )
        fail(
          `prefixes ${JSON.stringify(a.prefix)} (${a.name}) and ${JSON.stringify(b.prefix)} (${b.name}) nest: an object key would have two owners`,
        );
    }
  }
  return [...pipelines];
}

/** The pipeline that owns an object key (prefixes never nest, so at most one does). */
export function pipelineOwning<P extends PipelineScope>(
  pipelines: readonly P[],
  objectKey: string,
): P | undefined {
  return pipelines.find((pipeline) => pipeline.prefixes.some((prefix) => objectKey.startsWith(prefix)));
}

/** The pipeline a registry key belongs to: as registered, else the one whose alias it rotated behind. */
export function pipelineOfKey(
  pipelines: readonly PipelineScope[] | undefined,
  key: { readonly pipeline?: string; readonly alias?: string },
): string | undefined {
  if (key.pipeline !== undefined) return key.pipeline;
  return pipelines?.find((pipeline) => pipeline.alias === key.alias)?.name;
}

/** Every pipeline a policy names (`{ registry: { pipeline } }`): each must be configured. */
export const namedPipelines = (policy: Policy): string[] => [
  ...new Set(
    policy.rules.flatMap((rule) =>
      rule.requirements.flatMap((requirement) =>
        requirement.signers.flatMap((signer) => signer.pipeline ?? []),
      ),
    ),
  ),
];

/**
 * Reads pipelines from their JSON form (the `VOUCH_PIPELINES` variable): a list of `{ name, alias,
 * prefixes }`, other fields kept for whoever reads them. Throws naming what is wrong.
 */
export function parsePipelines(
  text: string,
  what = 'VOUCH_PIPELINES',
): (PipelineScope & Record<string, unknown>)[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${what}: not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list of pipelines`);
  const pipelines = value.map((item, i) => {
    const entry = item as Record<string, unknown>;
    const strings = (field: string) =>
      Array.isArray(entry[field]) && entry[field].every((s) => typeof s === 'string');
    if (
      typeof item !== 'object' ||
      item === null ||
      typeof entry.name !== 'string' ||
      typeof entry.alias !== 'string' ||
      !strings('prefixes')
    )
      throw new Error(`${what}[${i}]: expected { name, alias, prefixes: [...] }`);
    return entry as PipelineScope & Record<string, unknown>;
  });
  return validatePipelines(pipelines, what);
}
