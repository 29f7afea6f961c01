import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI, as package.json's `bin` names it (test/helpers/build-cli.ts builds it before the tests). */
export const VOUCH_BIN = fileURLToPath(new URL('../../../dist/vouch.mjs', import.meta.url));

/** An empty home: no ~/.aws of the machine's leaks into a test. */
const HOME = mkdtempSync(join(tmpdir(), 'vouch-home-'));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

/**
 * Runs `vouch` as a user would: a child process of the built binary, with only the environment given
 * (plus PATH and an empty HOME), so nothing of the test process's environment leaks in.
 */
export function vouch(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; nodeArgs?: readonly string[] } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), VOUCH_BIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: {
        PATH: process.env.PATH,
        HOME,
        // Without credentials the SDK asks the EC2 metadata service, which is not there: fail at once.
        AWS_EC2_METADATA_DISABLED: 'true',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
  });
}
