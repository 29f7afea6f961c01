import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Vitest global setup: builds the CLI (dist/vouch.mjs, what package.json's `bin` names) from the sources
 * being tested, so the CLI tests run the real binary and never a stale one.
 */
export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../bin/build-cli.mjs', import.meta.url))], {
    stdio: 'inherit',
  });
}
