import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createConsole } from '../../../local/console.ts';
import { createEventQueue } from '../../../local/queue.ts';
import { freePort } from '../../helpers/gate.ts';
import { vouch } from './binary.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `npm start` as a child process, its output collected as it comes. */
function start(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: mkdtempSync(join(tmpdir(), 'vouch-home-')) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  /** Resolves once stdout matches; fails if the process ends first. */
  const printed = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output.stdout);
        if (match) {
          child.stdout.off('data', check);
          resolve(match);
        }
      };
      child.stdout.on('data', check);
      void exited.then(() =>
        reject(new Error(`npm start exited before printing ${pattern}:\n${output.stdout}${output.stderr}`)),
      );
      check();
    });
  return { child, output, exited, printed };
}

const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGINT');
});

async function occupied(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('npm start, when a port is taken', () => {
  it.each(['--s3-port', '--dynamodb-port', '--kms-port'])(
    'says which port and what to do, in one line, exit 3, and writes no environment file (%s)',
    async (option) => {
      const taken = await occupied();
      const dataDir = mkdtempSync(join(tmpdir(), 'vouch-start-'));
      // An earlier run's file must not claim a stack is ready.
      writeFileSync(join(dataDir, 'env'), 'export AWS_ENDPOINT_URL_S3=http://127.0.0.1:1\n');
      const ports: Record<string, string> = {
        '--s3-port': String(await freePort()),
        '--dynamodb-port': String(await freePort()),
        '--kms-port': String(await freePort()),
        [option]: String(taken.port),
      };
      try {
        const run = start(['--no-demo', '--data-dir', dataDir, ...Object.entries(ports).flat()]);
        expect(await run.exited).toBe(3);
        expect(run.output.stderr).toBe(
          `npm start: port ${taken.port} is already in use on 127.0.0.1 — is another \`npm start\` running? Stop it, or choose another port with ${option}\n`,
        );
        expect(existsSync(join(dataDir, 'env'))).toBe(false);
      } finally {
        await taken.close();
      }
    },
  );
});

describe('npm start -- --no-demo', () => {
  it('writes the environment file once ready, then prints one line per decision and no JSON', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vouch-start-'));
    const ports = ['--s3-port', '--dynamodb-port', '--kms-port'];
    const args = ['--no-demo', '--data-dir', dataDir];
    for (const option of ports) args.push(option, String(await freePort()));
    const stack = start(args);
    running.push(stack.child);
    await stack.printed(/Decisions as they are made:\n/);

    const envFile = join(dataDir, 'env');
    const env = Object.fromEntries(
      readFileSync(envFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => /^export ([A-Z0-9_]+)=(.*)$/.exec(line)?.slice(1) as [string, string]),
    );
    expect(env.VOUCH_DEAD_LETTERS_FILE).toBe(join(dataDir, 'dead-letters.jsonl'));
    // Ready means ready: the CLI works with it at once.
    expect((await vouch(['status', '--pending'], { env })).code).toBe(0);

    const artifact = join(dataDir, 'app.tar.gz');
    writeFileSync(artifact, 'app bytes');
    expect((await vouch(['sign', artifact, '--builder-id', 'https://ci.example'], { env })).code).toBe(0);
    expect(
      (
        await vouch(
          ['upload', artifact, '-a', `${artifact}.sigstore.json`, '--prefix', 'releases/', '--wait'],
          { env },
        )
      ).code,
    ).toBe(0);
    await stack.printed(/^\d\d:\d\d:\d\d {2}PROMOTED {4}releases\/app\.tar\.gz$/m);

    const lonely = join(dataDir, 'lonely.bin');
    writeFileSync(lonely, 'no attestation');
    expect((await vouch(['upload', lonely, '--prefix', 'releases/'], { env })).code).toBe(0);
    await stack.printed(
      /^\d\d:\d\d:\d\d {2}PENDING {5}releases\/lonely\.bin {2}MISSING_ATTESTATION: rule releases: requires a https:\/\/slsa\.dev\/provenance\/v1 attestation; none was found/m,
    );
    expect(stack.output.stdout).not.toMatch(/^\s*\{/m);
    expect(stack.output.stderr).toBe('');

    stack.child.kill('SIGINT');
    expect(await stack.exited).toBe(0);
    expect(existsSync(envFile)).toBe(false);
  });
});

describe('dead letters', () => {
  it('are written with the error the verifier gave, and `vouch status --dead-letters` shows them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-dead-letters-'));
    const file = join(dir, 'dead-letters.jsonl');
    const lines: string[] = [];
    const localConsole = createConsole({
      deadLetterFile: file,
      print: (line) => lines.push(line),
      now: () => new Date('2026-11-26T10:00:00Z'),
    });
    const queue = createEventQueue({
      maxReceiveCount: 2,
      retryDelayMs: 1,
      // As the verifier does: it logs the failure with the message ID, and reports the message failed.
      handler: async (event) => {
        for (const record of event.Records)
          localConsole.failed(
            record.messageId,
            Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4569'), { name: 'Error' }),
          );
        return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
      },
    });
    queue.send(
      JSON.stringify({
        Records: [
          {
            eventName: 'ObjectCreated:Put',
            s3: { bucket: { name: 'vouch-staging' }, object: { key: 'releases/my+app.tgz' } },
          },
        ],
      }),
    );
    await queue.drain();
    localConsole.flushDeadLetters(queue.deadLetters);
    expect(lines.at(-1)).toBe(
      '10:00:00  DEAD LETTER message local-1 (s3://vouch-staging/releases/my app.tgz) after 2 attempts: Error: connect ECONNREFUSED 127.0.0.1:4569',
    );

    const run = await vouch(['status', '--dead-letters'], { env: { VOUCH_DEAD_LETTERS_FILE: file } });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      '2026-11-26T10:00:00.000Z  local-1  s3://vouch-staging/releases/my app.tgz  after 2 attempt(s): Error: connect ECONNREFUSED 127.0.0.1:4569\n',
    );
    const json = await vouch(['status', '--dead-letters', '--json'], {
      env: { VOUCH_DEAD_LETTERS_FILE: file },
    });
    expect(JSON.parse(json.stdout)).toEqual([
      {
        at: '2026-11-26T10:00:00.000Z',
        messageId: 'local-1',
        attempts: 2,
        error: 'Error: connect ECONNREFUSED 127.0.0.1:4569',
        objects: ['s3://vouch-staging/releases/my app.tgz'],
      },
    ]);
  });

  it('outside the local stack, points at the dead-letter queue', async () => {
    const run = await vouch(['status', '--dead-letters'], {
      env: {
        VOUCH_DEAD_LETTERS_FILE: '/nonexistent/dead-letters.jsonl',
        VOUCH_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/vouch-dlq',
      },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /aws sqs receive-message --queue-url https:\/\/sqs\.eu-west-1\.amazonaws\.com\/1\/vouch-dlq/,
    );
  });
});
