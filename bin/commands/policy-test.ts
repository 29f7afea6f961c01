import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  type Attestation,
  type Decision,
  digestFile,
  evaluate,
  keyIdOf,
  parseAttestationFile,
  parseDigest,
  parsePolicyAsync,
  publicKeyFromPem,
  type Reason,
  staticKeyLookup,
  type TrustedKey,
  VouchError,
} from '#core/index.ts';
import { EXIT, type Io, UsageError } from '../cli.ts';

/**
 * `vouch policy test DIR`: a policy against recorded cases, as `kyverno test` and `ec validate` do. The
 * cases are evaluated as the pipeline evaluates (attestations that do not verify are notes, not
 * verdicts), and each verdict is the status the pipeline would record.
 */
export const TEST_FILE = 'vouch-test.yaml';

interface CaseSpec {
  readonly name: string;
  readonly artifact?: string;
  readonly digest?: string;
  readonly path?: string;
  readonly size?: number;
  readonly attestations?: readonly string[];
  readonly now?: string;
  readonly expect: 'verified' | 'pending' | 'rejected';
  readonly reasons?: readonly string[];
}

interface TestSpec {
  readonly policy?: string;
  readonly keys?: readonly (string | { readonly pem: string; readonly keyId?: string })[];
  readonly now?: string;
  readonly cases: readonly CaseSpec[];
}

export interface CaseResult {
  readonly name: string;
  readonly expected: string;
  readonly actual: string;
  readonly missingReasons: readonly string[];
  readonly passed: boolean;
  readonly reasons: readonly Reason[];
}

export async function policyTest(
  dir: string,
  values: { policy?: string | undefined; json?: boolean | undefined },
  io: Io,
): Promise<number> {
  const base = resolve(dir);
  const spec = await loadSpec(join(base, TEST_FILE));
  const policyFile = values.policy ? resolve(values.policy) : join(base, spec.policy ?? 'policy.yaml');
  let policy: Awaited<ReturnType<typeof parsePolicyAsync>>;
  try {
    policy = await parsePolicyAsync(await readText(policyFile), basename(policyFile));
  } catch (error) {
    if (error instanceof VouchError) throw new UsageError(error.message);
    throw error;
  }
  const keys = await Promise.all((spec.keys ?? []).map((entry) => loadKey(base, entry)));
  const results: CaseResult[] = [];
  for (const [index, testCase] of spec.cases.entries()) {
    const where = `${TEST_FILE}: cases[${index}] (${testCase.name})`;
    const digests = testCase.digest
      ? parseDigestFor(testCase.digest, where)
      : testCase.artifact
        ? (await digestFile(join(base, testCase.artifact), ['sha256'])).digests
        : undefined;
    if (!digests) throw new UsageError(`${where}: give artifact (a file) or digest`);
    const size =
      testCase.size ?? (testCase.artifact ? (await stat(join(base, testCase.artifact))).size : undefined);
    const attestations: Attestation[] = [];
    const inputErrors: Reason[] = [];
    for (const file of testCase.attestations ?? []) {
      const parsed = parseAttestationFile(await readFile(join(base, file)), file);
      attestations.push(...parsed.attestations.map((a) => ({ ...a, beside: true })));
      inputErrors.push(...parsed.errors);
    }
    const now = new Date(testCase.now ?? spec.now ?? Date.now());
    if (Number.isNaN(now.getTime())) throw new UsageError(`${where}: now is not a time`);
    const decision = evaluate({
      artifact: {
        path: testCase.path ?? basename(testCase.artifact ?? 'artifact'),
        digests,
        ...(size === undefined ? {} : { size }),
      },
      attestations,
      inputErrors,
      policy,
      keys: staticKeyLookup(keys),
      observedAt: now,
      now,
    });
    const actual = verdictOf(decision);
    const codes = new Set([...decision.reasons, ...(decision.auditReasons ?? [])].map((r) => r.code));
    const missingReasons = (testCase.reasons ?? []).filter((code) => !codes.has(code as Reason['code']));
    results.push({
      name: testCase.name,
      expected: testCase.expect,
      actual,
      missingReasons,
      passed: actual === testCase.expect && missingReasons.length === 0,
      reasons: decision.reasons,
    });
  }
  const failed = results.filter((r) => !r.passed);
  if (values.json) io.out(JSON.stringify({ policy: policy.digest, results }, null, 2));
  else {
    for (const r of results) {
      io.out(`${r.passed ? 'PASS' : 'FAIL'}  ${r.name}: expected ${r.expected}, got ${r.actual}`);
      if (r.missingReasons.length > 0) io.out(`      missing reasons: ${r.missingReasons.join(', ')}`);
      if (!r.passed) for (const reason of r.reasons) io.out(`      ${reason.code}: ${reason.message}`);
    }
    io.out(`${results.length - failed.length} passed, ${failed.length} failed`);
  }
  return failed.length > 0 ? EXIT.rejected : EXIT.accepted;
}

/** The status the pipeline would record (before any deadline). */
const verdictOf = (decision: Decision) =>
  decision.accepted ? 'verified' : decision.curable ? 'pending' : 'rejected';

async function readText(path: string) {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

async function loadSpec(file: string): Promise<TestSpec> {
  const value = parseYaml(await readText(file), { maxAliasCount: 64 }) as Partial<TestSpec> | null;
  if (!value || !Array.isArray(value.cases) || value.cases.length === 0)
    throw new UsageError(`${file}: needs a non-empty cases list`);
  for (const [index, c] of value.cases.entries()) {
    if (typeof c?.name !== 'string' || !['verified', 'pending', 'rejected'].includes(c?.expect as string))
      throw new UsageError(`${file}: cases[${index}] needs a name and expect: verified, pending or rejected`);
  }
  return value as TestSpec;
}

async function loadKey(base: string, entry: NonNullable<TestSpec['keys']>[number]): Promise<TrustedKey> {
  const pemFile = typeof entry === 'string' ? entry : entry.pem;
  const publicKey = publicKeyFromPem(await readText(join(base, pemFile)), pemFile);
  // Keys in a test stand for registry keys: `{ registry: true }` counts them, as in the pipeline.
  const keyId = (typeof entry === 'string' ? undefined : entry.keyId) ?? keyIdOf(publicKey);
  return { keyId, publicKey, origin: 'registry' };
}

function parseDigestFor(text: string, where: string) {
  try {
    return parseDigest(text);
  } catch (error) {
    throw new UsageError(`${where}: ${(error as Error).message}`);
  }
}
