// Builds the `vouch` CLI into dist/: `vouch.mjs`, the entry, which loads each command's chunk only when
// that command runs. Run by `npm run build:cli`, by `prepare` (so `npm ci` leaves a working `vouch`) and
// by the tests before any of them spawns the CLI.
import { execFileSync } from 'node:child_process';
import { cpSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = process.argv[2] ?? `${root}dist`;
// Built beside the target and swapped in, so a `vouch` running meanwhile never sees half a build.
const outdir = `${target}.partial-${process.pid}`;

/** The commit, so `vouch --version` says which one a pinned install runs; absent outside a git checkout. */
function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { vouch: `${root}bin/entry.ts` },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  outExtension: { '.js': '.mjs' },
  // Chunks beside the entry: code that finds files through import.meta.url (the pinned trusted root)
  // resolves them from dist/ whichever chunk it lands in.
  chunkNames: '[name]-[hash]',
  mainFields: ['module', 'main'],
  minify: true,
  legalComments: 'linked',
  define: { __VOUCH_COMMIT__: JSON.stringify(commit()) },
  // CommonJS dependencies inside an ESM bundle call require().
  banner: {
    js: "import { createRequire as __vouchRequire } from 'node:module'; const require = __vouchRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// The pinned Sigstore trusted root, read at run time through import.meta.url (lambdas/core/trust.ts).
cpSync(`${root}lambdas/core/trust`, `${outdir}/trust`, { recursive: true });
// Swap: the old build aside, the new one in. Two builds of one checkout may race (test runs started
// together); the loser's output is the same, so it is dropped rather than left behind.
const aside = `${target}.old-${process.pid}`;
try {
  try {
    renameSync(target, aside);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  renameSync(outdir, target);
} catch (error) {
  if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
} finally {
  rmSync(outdir, { recursive: true, force: true });
  rmSync(aside, { recursive: true, force: true });
}
