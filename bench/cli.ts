import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStatement, digestFile, signStatement } from '#core/index.ts';
import { testKey } from '../test/helpers/keys.ts';
import type { Figure } from './harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist/vouch.mjs');
/** Runs of each command; the median is reported, the runs of all commands interleaved. */
const RUNS = Number(process.env.VOUCH_BENCH_CLI_RUNS ?? 15);

/** Wall time of one process from spawn to exit, in milliseconds. */
function timed(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - start;
  if (result.status !== 0)
    throw new Error(`bench: ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/**
 * How long the built CLI takes to start and answer, against `node -e 0` measured alongside: `--help`
 * (no command loaded) and `verify` of a keyed attestation (the verification core, no AWS SDK). The
 * targets are absolute (300 ms, 500 ms on this machine), so the ratio shows what is Vouch's own.
 * Node's compile cache is off for the measured runs: a CI runner starts with an empty one.
 */
export async function cliFigures(): Promise<Figure[]> {
  execFileSync(process.execPath, [join(ROOT, 'bin/build-cli.mjs')]);
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-cli-'));
  const key = testKey();
  const artifact = join(dir, 'app.tar.gz');
  writeFileSync(artifact, 'bench artifact');
  const { digests } = await digestFile(artifact);
  const statement = createStatement([{ name: 'app.tar.gz', digests }], 'https://slsa.dev/provenance/v1', {});
  writeFileSync(`${artifact}.sigstore.json`, JSON.stringify(await signStatement(statement, key.sign)));
  writeFileSync(join(dir, 'key.pem'), key.publicKeyPem);

  const cold = { PATH: process.env.PATH, NODE_DISABLE_COMPILE_CACHE: '1' };
  const warm = { PATH: process.env.PATH, NODE_COMPILE_CACHE: join(dir, 'compile-cache') };
  const verify = [BIN, 'verify', artifact, '-a', `${artifact}.sigstore.json`, '--key', join(dir, 'key.pem')];
  const cases = {
    baseline: { args: ['-e', '0'], env: cold },
    help: { args: [BIN, '--help'], env: cold },
    verify: { args: verify, env: cold },
    verifyWarm: { args: verify, env: warm },
    source: { args: ['--import', 'tsx', join(ROOT, 'bin/entry.ts'), ...verify.slice(1)], env: cold },
  };
  const times = Object.fromEntries(Object.keys(cases).map((name) => [name, [] as number[]])) as Record<
    keyof typeof cases,
    number[]
  >;
  // One unmeasured run each (page cache, and the warm compile cache), then every command in turn.
  for (const { args, env } of Object.values(cases)) timed(args, env);
  for (let run = 0; run < RUNS; run++)
    for (const [name, { args, env }] of Object.entries(cases))
      times[name as keyof typeof cases].push(timed(args, env));

  const baseline = { name: '`node -e 0`', value: median(times.baseline) };
  const note = `median of ${RUNS} runs each, interleaved; NODE_DISABLE_COMPILE_CACHE=1 unless said`;
  return [
    {
      name: 'CLI start: vouch --help',
      value: median(times.help),
      unit: 'ms',
      baseline,
      target: { atMost: 300, of: 'value' },
      note,
    },
    {
      name: 'CLI: vouch verify, keyed attestation',
      value: median(times.verify),
      unit: 'ms',
      baseline,
      target: { atMost: 500, of: 'value' },
    },
    {
      name: 'CLI: vouch verify, compile cache warm',
      value: median(times.verifyWarm),
      unit: 'ms',
      baseline,
    },
    {
      name: 'CLI: vouch verify from source through tsx',
      value: median(times.source),
      unit: 'ms',
      baseline,
      note: 'as the CLI ran before the prebuilt bundle: TypeScript compiled at every start',
    },
  ];
}
