import { readFile } from 'node:fs/promises';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { requireEnv } from '#adapters/config.ts';
import { RecordStore } from '#adapters/records.ts';
import {
  DEAD_LETTERS_FILE,
  type DeadLetterEntry,
  parseDigest,
  primaryDigest,
  VouchError,
} from '#core/index.ts';
import type { ArtifactRecord } from '#core/lifecycle.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, parseDuration, shellQuote, UsageError } from '../cli.ts';
import { describeRecord, describeTimeout, exitForStatus, recordFor, waitForDecision } from '../decisions.ts';

export const DEFAULT_WAIT = '10m';

const USAGE = `usage: vouch status OBJECT_KEY|s3://BUCKET/KEY|sha256:<hex> [--version-id ID] [--wait[=DURATION]] [--json]
       vouch status --pending [--json]
       vouch status --dead-letters [--json]

Shows the recorded decisions for an object key (every version) or a digest, root cause first. For a
digest it also lists the attestations indexed under it and the artifacts waiting on it.

  --version-id ID       the upload to report on (its S3 version ID, or ETag where the bucket is
                        unversioned), as \`vouch upload\` prints it; default: the key's newest upload
  --wait[=DURATION]     wait until the decision is promoted, rejected or quarantined (default ${DEFAULT_WAIT};
                        e.g. --wait=90s, --wait=1h)
  --pending             what is waiting: pending artifacts (missing attestations) and verified ones
                        whose promotion has not finished
  --dead-letters        messages the local stack's verifier gave up on, with their errors
                        ($VOUCH_DEAD_LETTERS_FILE, written by \`npm start\`; in AWS they are in the
                        stack's DeadLetterQueueUrl)
  --json                print the records as JSON

Reads $VOUCH_RECORDS_TABLE (and $VOUCH_INDEX_TABLE for a digest) where the environment points.

exit status, for an object key or digest (its newest upload, or --version-id's):
  0 verified or promoted; 1 rejected or quarantined; 3 pending or no decision yet (after --wait: still
  so at the deadline), or AWS unavailable; 2 usage error. Listings exit 0.`;

const OPTIONS = {
  'version-id': { type: 'string' },
  wait: { type: 'string' },
  pending: { type: 'boolean', default: false },
  'dead-letters': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const WAIT_OPTION = {
  wait: {
    fallback: DEFAULT_WAIT,
    accepts: (next: string) => /^\d+((ms|s|m|h)(\d+(ms|s|m|h))*)?$/.test(next),
  },
};

export async function statusCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    name: 'status',
    options: OPTIONS,
    optionalValues: WAIT_OPTION,
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const listings = [values.pending, values['dead-letters']].filter(Boolean).length;
  if (listings > 1 || (listings === 1 && positionals.length > 0))
    throw new UsageError('give one of an object key or digest, --pending, --dead-letters');
  if (values['dead-letters']) return deadLetters(io, values.json);
  const timeoutMs = values.wait === undefined ? undefined : parseDuration(values.wait, '--wait');
  const records = () =>
    new RecordStore(cliClients.documents(io.env), envOrUsage('VOUCH_RECORDS_TABLE', io.env));
  if (values.pending) {
    if (timeoutMs !== undefined) throw new UsageError('--wait needs an object key, not --pending');
    return pending(records(), io, values.json);
  }

  const [target, ...extra] = positionals;
  if (target === undefined || extra.length > 0)
    throw new UsageError(
      'expected one OBJECT_KEY, s3://BUCKET/KEY or sha256:<hex>; see `vouch status --help`',
    );
  if (/^sha(256|512):/i.test(target)) {
    if (timeoutMs !== undefined || values['version-id'] !== undefined)
      throw new UsageError('--wait and --version-id need an object key, not a digest');
    return byDigest(target, records(), io, values.json);
  }
  const key = objectKeyOf(target);
  const store = records();
  const version = values['version-id'];
  if (timeoutMs === undefined) {
    const all = await store.byKey(key);
    const shown = version === undefined ? all : all.filter((r) => r === recordFor(all, version));
    if (values.json) io.out(JSON.stringify(shown, null, 2));
    else if (shown.length === 0)
      io.out(`no decision recorded for ${target}${version ? ` version ${version}` : ''} (yet)`);
    else for (const record of shown) io.out(describeRecord(record));
    return exitForStatus(recordFor(all, version)?.status);
  }
  io.err(`waiting up to ${values.wait} for the decision on ${key}${version ? ` version ${version}` : ''}…`);
  const result = await waitForDecision({
    records: store,
    key,
    timeoutMs,
    ...(version === undefined ? {} : { version }),
  });
  if (values.json) io.out(JSON.stringify(result.record ?? null, null, 2));
  else if (result.record) io.out(describeRecord(result.record));
  if (result.timedOut) io.err(describeTimeout(result, timeoutMs, followUp(target, version)));
  return exitForStatus(result.record?.status);
}

/** The command that asks again about one upload. */
export const followUp = (target: string, version?: string) =>
  `vouch status ${shellQuote(target)}${version === undefined ? '' : ` --version-id ${shellQuote(version)}`} --wait`;

/** `s3://bucket/key` as `vouch upload` prints it, or the key itself. Records are kept per staging key. */
function objectKeyOf(target: string): string {
  if (!target.startsWith('s3://')) return target;
  const match = /^s3:\/\/[^/]+\/(.+)$/.exec(target);
  if (!match?.[1]) throw new UsageError(`expected s3://BUCKET/KEY, found ${target}`);
  return match[1];
}

async function byDigest(target: string, records: RecordStore, io: Io, json: boolean): Promise<number> {
  let digest: string;
  try {
    digest = primaryDigest(parseDigest(target.toLowerCase()));
  } catch (error) {
    if (error instanceof VouchError) throw new UsageError(error.message);
    throw error;
  }
  const found = await records.byDigest(digest);
  const indexTable = io.env.VOUCH_INDEX_TABLE;
  const index = indexTable ? new AttestationIndex(cliClients.documents(io.env), indexTable) : undefined;
  const attestations = index ? await index.attestationsFor([digest], 1024) : undefined;
  const waiting = index ? await index.waitersFor(digest) : undefined;
  if (json) {
    io.out(JSON.stringify({ records: found, attestations, waiting }, null, 2));
  } else {
    if (found.length === 0) io.out(`no decision recorded for ${digest} (yet)`);
    for (const record of found) io.out(describeRecord(record));
    if (attestations === undefined) {
      io.out('(set VOUCH_INDEX_TABLE to list the attestations indexed for this digest)');
    } else {
      io.out(
        attestations.length === 0
          ? `no attestation indexed for ${digest}`
          : `attestations indexed for ${digest}:`,
      );
      for (const a of attestations) io.out(`  ${a.objectKey}  version ${a.version}  stored ${a.observedAt}`);
      for (const w of waiting ?? []) io.out(`  waiting on it: ${w.objectKey}  version ${w.version}`);
    }
  }
  return exitForStatus(recordFor(found)?.status);
}

async function pending(records: RecordStore, io: Io, json: boolean): Promise<number> {
  const waiting: ArtifactRecord[] = [
    ...(await records.byStatus('pending')),
    ...(await records.byStatus('verified')),
  ];
  if (json) {
    io.out(JSON.stringify(waiting, null, 2));
    return EXIT.accepted;
  }
  if (waiting.length === 0) io.out('nothing pending');
  for (const record of waiting) {
    const why = record.reasons[0];
    const detail =
      record.status === 'verified'
        ? `promotion not finished (verified ${record.updatedAt})`
        : `${why ? `${why.code}: ${why.message}` : 'waiting'}${record.deadline ? `; rejected at ${record.deadline} unless attestations arrive` : ''}`;
    io.out(`${record.status.toUpperCase().padEnd(9)} ${record.objectKey}  ${detail}`);
  }
  return EXIT.accepted;
}

async function deadLetters(io: Io, json: boolean): Promise<number> {
  const file = io.env.VOUCH_DEAD_LETTERS_FILE ?? `.vouch/${DEAD_LETTERS_FILE}`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    const inAws = io.env.VOUCH_DLQ_URL
      ? `; in AWS, read the dead-letter queue: aws sqs receive-message --queue-url ${io.env.VOUCH_DLQ_URL} --max-number-of-messages 10 --visibility-timeout 0, and find each messageId in the verifier's logs`
      : '';
    throw new UsageError(
      `no dead-letter file at ${file}: \`npm start\` writes it (\`source .vouch/env\` sets VOUCH_DEAD_LETTERS_FILE)${inAws}`,
    );
  }
  const entries = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as DeadLetterEntry);
  if (json) io.out(JSON.stringify(entries, null, 2));
  else if (entries.length === 0) io.out('no dead letters');
  else
    for (const entry of entries)
      io.out(
        `${entry.at}  ${entry.messageId}  ${entry.objects.join(', ') || '(no object)'}  after ${entry.attempts} attempt(s): ${entry.error}`,
      );
  return EXIT.accepted;
}

function envOrUsage(name: string, env: NodeJS.ProcessEnv): string {
  try {
    return requireEnv(name, env);
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (for the local stack, \`source .vouch/env\`)`);
  }
}
