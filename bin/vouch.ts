import packageJson from '../package.json' with { type: 'json' };
import { EXIT, type Io, nearest, processIo } from './cli.ts';
import { debugging, describeFailure, traceOf } from './failures.ts';

type Command = (args: string[], io: Io) => Promise<number>;

/**
 * Each command is loaded when it runs: `vouch --help` reads none of them, and `vouch verify` never loads
 * the AWS SDK. In the built CLI (bin/build-cli.mjs) every import below is a chunk of its own.
 */
const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  verify: {
    load: async () => (await import('./commands/verify.ts')).verifyCommand,
    summary: 'verify an artifact against attestations and a policy (offline)',
  },
  sign: {
    load: async () => (await import('./commands/sign.ts')).signCommand,
    summary: 'sign provenance for artifacts with a KMS key (Sigstore bundle v0.3)',
  },
  upload: {
    load: async () => (await import('./commands/upload.ts')).uploadCommand,
    summary: 'upload an artifact and its attestations to the staging bucket (--wait for the verdict)',
  },
  status: {
    load: async () => (await import('./commands/status.ts')).statusCommand,
    summary: 'show recorded decisions, what is pending, dead letters (--wait for a verdict)',
  },
  fetch: {
    load: async () => (await import('./commands/fetch.ts')).fetchCommand,
    summary: 'download a promoted artifact, verifying its signed verification summary',
  },
  keys: {
    load: async () => (await import('./commands/keys.ts')).keysCommand,
    summary: 'list, rotate or revoke signing keys in the key registry',
  },
  policy: {
    load: async () => (await import('./commands/policy.ts')).policyCommand,
    summary: 'sign, push, show or test a signed policy (the verifier loads the newest valid version)',
  },
  trust: {
    load: async () => (await import('./commands/trust.ts')).trustCommand,
    summary: "refresh (through TUF) or show each Sigstore instance's trusted root",
  },
};

/** The version, and the commit the CLI was built from where the build knew it (bin/build-cli.mjs). */
declare const __VOUCH_COMMIT__: string | undefined;
export const VERSION = `${packageJson.version}${typeof __VOUCH_COMMIT__ === 'string' && __VOUCH_COMMIT__ ? ` (${__VOUCH_COMMIT__})` : ''}`;

const usage = () =>
  [
    'usage: vouch <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`),
    '',
    'exit status:',
    '  0  accepted, verified or promoted',
    '  1  rejected, quarantined or refused',
    '  2  usage or input error: fix the command or its inputs',
    '  3  no verdict: AWS or the local stack unavailable, or still pending at the deadline; try again later',
    '  4  internal error: a bug in vouch',
    '',
    "Run `vouch <command> --help` for a command's options; VOUCH_DEBUG=1 prints stack traces.",
  ].join('\n');

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.err(usage());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return EXIT.accepted;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`vouch ${VERSION}`);
    return EXIT.accepted;
  }
  const command = COMMANDS[name];
  if (!command) {
    const suggestion = nearest(name.replace(/^-+/, ''), Object.keys(COMMANDS));
    io.err(
      `vouch: unknown command "${name}"${suggestion ? ` (did you mean ${suggestion}?)` : ''}; run \`vouch --help\` for the list`,
    );
    return EXIT.usage;
  }
  try {
    return await (await command.load())(args, io);
  } catch (error) {
    const failure = describeFailure(error, io.env);
    io.err(`vouch ${name}: ${failure.message}`);
    if (debugging(io.env)) io.err(traceOf(error));
    return failure.exit;
  }
}
