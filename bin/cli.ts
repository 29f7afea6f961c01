import type { Writable } from 'node:stream';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * Exit codes, the same for every command. 0 and 1 are verdicts (as cosign and slsa-verifier use them); 2
 * is a mistake in the invocation or its inputs, fixed by changing the command; 3 is "no verdict": AWS or
 * the local stack could not be reached or refused, or a decision is still pending at the deadline, so
 * running the same command later may succeed; 4 is a bug in Vouch.
 */
export const EXIT = { accepted: 0, rejected: 1, usage: 2, unavailable: 3, internal: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A usage or input error: one line, no stack, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Where raw bytes go (`vouch fetch -o -`). @default process.stdout */
  readonly stdout?: Writable;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  stdout: process.stdout,
};

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Another tool's spelling of an option: `--cert-identity` for `--certificate-identity`, or, with `value`,
 * an option whose one accepted value stands for a flag (`--format json` for `--json`).
 */
export type Alias = string | { readonly flag: string; readonly value: string };

export interface OptionalValue {
  /** The value a bare `--wait` stands for. */
  readonly fallback: string;
  /** Whether the next argument is this option's value (`--wait 10m`) rather than a positional. */
  readonly accepts: (next: string) => boolean;
}

export interface CommandSpec<T extends Options> {
  /** As in messages: `verify`, `keys revoke`. */
  readonly name: string;
  readonly options: T;
  readonly aliases?: Readonly<Record<string, Alias>>;
  /** String options whose value may be left out: `--wait`, `--wait=10m`, `--wait 10m`. */
  readonly optionalValues?: Readonly<Record<string, OptionalValue>>;
}

/**
 * Parses a command's arguments strictly. Unknown options are refused in one line, with the nearest known
 * spelling when there is one; aliases are rewritten first.
 */
export function parse<T extends Options>(args: readonly string[], spec: CommandSpec<T>) {
  const rewritten = rewrite(args, spec);
  try {
    return parseArgs({ args: rewritten, options: spec.options, allowPositionals: true, strict: true });
  } catch (error) {
    // node's messages run on with advice about `--`; the first sentence is what went wrong.
    const first = (error as Error).message.split(/\.\s/)[0]?.replace(/\.$/, '') ?? 'invalid arguments';
    throw new UsageError(`${first}; see \`vouch ${spec.name} --help\``);
  }
}

function rewrite<T extends Options>(args: readonly string[], spec: CommandSpec<T>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith('--')) {
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    const alias = spec.aliases?.[name];
    if (typeof alias === 'object') {
      if (value === undefined && i + 1 < args.length) value = args[++i];
      if (value !== alias.value) {
        throw new UsageError(
          `--${name} accepts only ${alias.value} (as --${alias.flag}), found ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
        );
      }
      out.push(`--${alias.flag}`);
      continue;
    }
    if (typeof alias === 'string') name = alias;
    if (!(name in spec.options)) {
      const suggestion = nearest(name, [...Object.keys(spec.options), ...Object.keys(spec.aliases ?? {})]);
      throw new UsageError(
        `unknown option --${name}${suggestion ? ` (did you mean --${suggestion}?)` : ''}; see \`vouch ${spec.name} --help\``,
      );
    }
    const optional = spec.optionalValues?.[name];
    if (optional && value === undefined) {
      const next = args[i + 1];
      if (next !== undefined && optional.accepts(next)) {
        value = next;
        i++;
      } else value = optional.fallback;
    }
    out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
  }
  return out;
}

/** The closest known name, if it is close enough to be a typo (or the typed name is a prefix of it). */
export function nearest(typed: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = candidate.startsWith(typed) && typed.length >= 3 ? 1 : editDistance(typed, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  if (!best) return undefined;
  return best.distance <= Math.max(2, Math.floor(typed.length / 4)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90`, `90s`, `10m`, `1h30m`, `500ms` → milliseconds. A bare number is seconds. */
export function parseDuration(text: string, what: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new UsageError(`${what}: not a duration: ${JSON.stringify(text)} (write e.g. 90s, 10m, 1h30m)`);
  }
  return parts.reduce((total, [, n, unit]) => total + Number(n) * (UNITS[unit as string] as number), 0);
}

export const formatDuration = (ms: number) =>
  ms >= 3_600_000 && ms % 3_600_000 === 0
    ? `${ms / 3_600_000}h`
    : ms >= 60_000 && ms % 60_000 === 0
      ? `${ms / 60_000}m`
      : `${Math.round(ms / 1000)}s`;

/** A word as a POSIX shell reads it back: bare when safe, else in single quotes. */
export const shellQuote = (word: string) =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
