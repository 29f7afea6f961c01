// `npm test`: Biome and tsc run beside the tests rather than before them (the suite leaves cores idle
// while Vite starts and the CLI is built), their output printed once the tests are done; any of the three
// failing fails the run. Arguments go to vitest: `npm test -- test/unit/core`.
import { spawn } from 'node:child_process';

/** Runs a tool from node_modules/.bin (on PATH under npm), its output held back unless `live`. */
function run(command, args, live = false) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: live ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    if (!live) {
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk) => {
        output += chunk;
      });
    }
    child.on('error', (error) => resolve({ code: 127, output: `${command}: ${error.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

const checks = [
  { name: 'lint (biome check .)', done: run('biome', ['check', '.']) },
  { name: 'typecheck (tsc -p tsconfig.json)', done: run('tsc', ['-p', 'tsconfig.json']) },
];
const tests = await run('vitest', ['run', ...process.argv.slice(2)], true);
let failed = tests.code !== 0;
for (const { name, done } of checks) {
  const { code, output } = await done;
  process.stdout.write(`\n${code === 0 ? '✓' : '✗'} ${name}\n${output}`);
  failed ||= code !== 0;
}
process.exitCode = failed ? 1 : 0;
