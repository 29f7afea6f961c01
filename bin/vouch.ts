import { EXIT, type Io, processIo, UsageError } from './cli.ts';
import { fetchCommand } from './commands/fetch.ts';
import { keysCommand } from './commands/keys.ts';
import { signCommand } from './commands/sign.ts';
import { statusCommand } from './commands/status.ts';
import { trustCommand } from './commands/trust.ts';
import { uploadCommand } from './commands/upload.ts';
import { verifyCommand } from './commands/verify.ts';

type Command = (args: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  verify: { run: verifyCommand, summary: 'verify an artifact against attestations and a policy (offline)' },
  sign: { run: signCommand, summary: 'sign provenance for artifacts with a KMS key (Sigstore bundle v0.3)' },
  keys: { run: keysCommand, summary: 'list, rotate or revoke signing keys in the key registry' },
  upload: { run: uploadCommand, summary: 'upload an artifact and its attestations to the staging bucket' },
  status: { run: statusCommand, summary: 'show recorded decisions for an object key or digest' },
  trust: {
    run: trustCommand,
    summary: "refresh (through TUF) or show each Sigstore instance's trusted root",
  },
  fetch: {
    run: fetchCommand,
    summary: 'download a promoted artifact, verifying its signed verification summary',
  },
};

const usage = () =>
  [
    'usage: vouch <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`),
    '',
    "Run `vouch <command> --help` for a command's options.",
  ].join('\n');

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? EXIT.usage : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`vouch: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`vouch ${name}: ${error.message}`);
      return EXIT.usage;
    }
    throw error;
  }
}
