// npm run mutation [-- stryker options]: installs the mutation tools (mutation/package.json) when they are
// missing or stale, runs Stryker over the security core, then prints the security core's score.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
};

const installed = join(here, 'node_modules', '.package-lock.json');
if (
  !existsSync(installed) ||
  statSync(installed).mtimeMs < statSync(join(here, 'package-lock.json')).mtimeMs
) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (run(npm, ['ci', '--prefix', here, '--no-audit', '--no-fund']) !== 0) process.exit(3);
}

// Stryker copies the repository into .stryker-tmp/: point the tests at the shared fixtures where they are.
const env = {
  ...process.env,
  VOUCH_SHARED_FIXTURES: process.env.VOUCH_SHARED_FIXTURES ?? resolve(root, '..', 'shared', 'fixtures'),
};
const stryker = join(here, 'node_modules', '.bin', 'stryker');
const status = run(stryker, ['run', join(here, 'stryker.config.mjs'), ...process.argv.slice(2)], { env });
if (status !== 0) process.exit(status);
process.exit(run(process.execPath, [join(here, 'summary.mjs')]));
