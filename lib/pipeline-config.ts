import {
  DEFAULT_PIPELINE,
  type PipelineScope,
  pipelineAlias,
  prefixProblem,
  validatePipelines,
} from '../lambdas/core/pipelines.ts';

/** A repository whose GitHub Actions workflows may act as a pipeline (assume its upload role). */
export interface GithubRepository {
  readonly owner: string;
  readonly repo: string;
  /**
   * Git refs whose workflows may assume the role, IAM globs (`*` any characters, `?` one):
   * `refs/heads/main`, `refs/tags/v*`. @default ['refs/heads/main']
   */
  readonly refs: readonly string[];
  /**
   * A GitHub environment the job must run in (its protection rules apply). GitHub then names the
   * environment in the token's subject instead of the ref, so the ref is checked on its own claim.
   */
  readonly environment?: string;
}

/** A pipeline as the stack builds it: its scope, its CI identity, who else may sign with its key. */
export interface PipelineConfig extends PipelineScope {
  /**
   * The staging prefixes its upload role may write, and whose records it may read: its `prefixes`,
   * except for the default pipeline of a stack configured before pipelines (every key in scope, as its
   * one alias was; its role still writes only `OWNER/REPO/`, as before).
   */
  readonly uploadPrefixes: readonly string[];
  readonly github?: readonly GithubRepository[];
  /** IAM principals besides its upload role that may sign through its alias. */
  readonly signerPrincipalArns: readonly string[];
}

type Raw = Record<string, unknown>;
type Fail = (message: string) => never;

const GITHUB_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
/** A branch or tag ref, IAM glob characters allowed; nothing that could end the `sub` claim's field. */
const REF_PATTERN = /^refs\/(heads|tags)\/[A-Za-z0-9_./*?+-]{1,200}$/;
const ENVIRONMENT_PATTERN = /^[A-Za-z0-9_.-]{1,255}$/;
const IAM_PRINCIPAL_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/;
const ALIAS_PATTERN = /^alias\/(?!aws\/)[a-zA-Z0-9/_-]{1,250}$/;
const PIPELINE_KEYS = ['name', 'prefixes', 'alias', 'github', 'signerPrincipalArns'];
const REPOSITORY_KEYS = ['owner', 'repo', 'refs', 'environment'];

const isObject = (value: unknown): value is Raw =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The pipelines of a `pipelines` list: every field checked, named by its path. */
export function parsePipelinesConfig(value: unknown, signingKeyAlias: string, fail: Fail): PipelineConfig[] {
  if (!Array.isArray(value) || value.length === 0) fail('pipelines must be a non-empty list of pipelines');
  const pipelines = (value as unknown[]).map((item, i): PipelineConfig => {
    const where = `pipelines[${i}]`;
    if (!isObject(item)) fail(`${where} must be { "name", "prefixes", "github"?, ... }`);
    const raw = item as Raw;
    const unknown = Object.keys(raw).filter((key) => !PIPELINE_KEYS.includes(key));
    if (unknown.length)
      fail(`${where} has unknown key(s) ${unknown.join(', ')}; known: ${PIPELINE_KEYS.join(', ')}`);
    if (typeof raw.name !== 'string') fail(`${where}.name must be a string`);
    const name = raw.name as string;
    const prefixes = strings(raw.prefixes, `${where}.prefixes`, fail);
    if (prefixes.length === 0) fail(`${where}.prefixes must name at least one prefix`);
    prefixes.forEach((prefix, j) => {
      const problem = prefix === '' ? 'is empty: list the prefixes the pipeline owns' : prefixProblem(prefix);
      if (problem) fail(`${where}.prefixes[${j}] ${JSON.stringify(prefix)} ${problem}`);
    });
    // The default pipeline keeps the stack's one alias: the keys it already has stay its keys.
    const alias =
      raw.alias === undefined
        ? name === DEFAULT_PIPELINE
          ? signingKeyAlias
          : pipelineAlias(name, signingKeyAlias)
        : (raw.alias as string);
    if (typeof alias !== 'string' || !ALIAS_PATTERN.test(alias))
      fail(
        `${where}.alias must look like alias/<name> (not alias/aws/...), found ${JSON.stringify(raw.alias)}`,
      );
    const github = raw.github === undefined ? undefined : repositories(raw.github, `${where}.github`, fail);
    return {
      name,
      alias,
      prefixes,
      uploadPrefixes: prefixes,
      ...(github ? { github } : {}),
      signerPrincipalArns: principals(raw.signerPrincipalArns, `${where}.signerPrincipalArns`, fail),
    };
  });
  return checked(pipelines, fail);
}

/**
 * The one pipeline of a stack configured before pipelines: its alias, the uploader of `github`, the
 * outside signers, and every object key in scope, as its one alias had.
 */
export function legacyPipeline(
  signingKeyAlias: string,
  github: { owner: string; repo: string; branches: readonly string[] } | undefined,
  signerPrincipalArns: readonly string[],
  fail: Fail,
): PipelineConfig[] {
  return checked(
    [
      {
        name: DEFAULT_PIPELINE,
        alias: signingKeyAlias,
        prefixes: [''],
        uploadPrefixes: github ? [`${github.owner}/${github.repo}/`] : [],
        ...(github
          ? {
              github: [
                {
                  owner: github.owner,
                  repo: github.repo,
                  refs: github.branches.map((branch) => `refs/heads/${branch}`),
                },
              ],
            }
          : {}),
        signerPrincipalArns,
      },
    ],
    fail,
  );
}

/** `tools-x` → `ToolsX`: a pipeline's name in the stack's output IDs (letters and digits only). */
export const outputSuffix = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

function checked(pipelines: PipelineConfig[], fail: Fail): PipelineConfig[] {
  try {
    validatePipelines(pipelines);
  } catch (error) {
    fail((error as Error).message);
  }
  const suffixes = new Map<string, string>();
  for (const { name } of pipelines) {
    const other = suffixes.get(outputSuffix(name));
    if (other)
      fail(`pipelines ${other} and ${name} would share the stack outputs *${outputSuffix(name)}: rename one`);
    suffixes.set(outputSuffix(name), name);
  }
  return pipelines;
}

function repositories(value: unknown, where: string, fail: Fail): GithubRepository[] {
  if (!Array.isArray(value) || value.length === 0)
    fail(`${where} must be a non-empty list of { "owner", "repo", "refs"?, "environment"? }`);
  return (value as unknown[]).map((item, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(item)) fail(`${at} must be { "owner", "repo", "refs"?, "environment"? }`);
    const raw = item as Raw;
    const unknown = Object.keys(raw).filter((key) => !REPOSITORY_KEYS.includes(key));
    if (unknown.length)
      fail(`${at} has unknown key(s) ${unknown.join(', ')}; known: ${REPOSITORY_KEYS.join(', ')}`);
    if (typeof raw.owner !== 'string' || !GITHUB_NAME_PATTERN.test(raw.owner))
      fail(`${at}.owner must be a GitHub user or organisation name, found ${JSON.stringify(raw.owner)}`);
    if (typeof raw.repo !== 'string' || !GITHUB_NAME_PATTERN.test(raw.repo))
      fail(`${at}.repo must be a repository name without the owner, found ${JSON.stringify(raw.repo)}`);
    const refs = raw.refs === undefined ? ['refs/heads/main'] : strings(raw.refs, `${at}.refs`, fail);
    if (refs.length === 0) fail(`${at}.refs must name at least one ref`);
    for (const ref of refs) {
      if (!REF_PATTERN.test(ref) || ref.includes('..'))
        fail(
          `${at}.refs has ${JSON.stringify(ref)}: expected refs/heads/<branch> or refs/tags/<tag>, * and ? as globs`,
        );
    }
    if (
      raw.environment !== undefined &&
      (typeof raw.environment !== 'string' || !ENVIRONMENT_PATTERN.test(raw.environment))
    )
      fail(`${at}.environment must be a GitHub environment name, found ${JSON.stringify(raw.environment)}`);
    return {
      owner: raw.owner as string,
      repo: raw.repo as string,
      refs,
      ...(raw.environment !== undefined ? { environment: raw.environment as string } : {}),
    };
  });
}

function strings(value: unknown, where: string, fail: Fail): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    fail(`${where} must be a list of strings`);
  return value as string[];
}

function principals(value: unknown, where: string, fail: Fail): string[] {
  if (value === undefined) return [];
  const arns = strings(value, where, fail);
  for (const arn of arns) {
    if (!IAM_PRINCIPAL_ARN_PATTERN.test(arn))
      fail(`${where} must hold IAM role or user ARNs, found ${JSON.stringify(arn)}`);
  }
  return arns;
}
