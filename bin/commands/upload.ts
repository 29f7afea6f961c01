import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { requireEnv } from '#adapters/config.ts';
import { RecordStore } from '#adapters/records.ts';
import {
  assertSafePath,
  DEFAULT_ATTESTATION_SUFFIXES,
  DEFAULT_LIMITS,
  parseAttestationFile,
  VouchError,
} from '#core/index.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, parseDuration, UsageError } from '../cli.ts';
import { describeRecord, describeTimeout, exitForStatus, waitForDecision } from '../decisions.ts';
import { DEFAULT_WAIT, followUp, WAIT_OPTION } from './status.ts';

const USAGE = `usage: vouch upload FILE [--attestation FILE ...] [--prefix PREFIX] [--bucket BUCKET]
                    [--wait[=DURATION]] [--json]

Uploads the attestations, then the artifact, to the staging bucket (multipart for large files). Nothing
is sent until every file has been read and checked and every object key is known.

An attestation is stored beside the artifact as KEY + its suffix (app.tar.gz.sigstore.json). A second
attestation with the same suffix is stored as KEY.<16 hex of its SHA-256> + suffix, never over the
first; a file given twice is sent once.

  -a, --attestation FILE   ${DEFAULT_ATTESTATION_SUFFIXES.join(', ')} (repeatable)
      --prefix PREFIX      key prefix, e.g. releases/1.2.0/ (default: none)
      --bucket BUCKET      staging bucket (default: $VOUCH_STAGING_BUCKET)
      --wait[=DURATION]    then wait for the verdict (default ${DEFAULT_WAIT}); reads $VOUCH_RECORDS_TABLE
      --json               print what was uploaded (and the decision) as JSON

exit status: 0 uploaded (with --wait: verified or promoted); 1 with --wait: rejected or quarantined;
2 usage or input error, nothing sent; 3 AWS unavailable, or with --wait still pending at the deadline`;

const OPTIONS = {
  attestation: { type: 'string', short: 'a', multiple: true },
  prefix: { type: 'string', default: '' },
  bucket: { type: 'string' },
  wait: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** One object to send, known in full before anything is. */
interface Planned {
  readonly file: string;
  readonly key: string;
  readonly size: number;
}

interface Sent extends Planned {
  readonly versionId?: string;
  readonly eTag?: string;
}

export async function uploadCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    name: 'upload',
    options: OPTIONS,
    optionalValues: WAIT_OPTION,
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0)
    throw new UsageError(`expected one FILE, found ${positionals.length}; see \`vouch upload --help\``);
  const bucket = values.bucket ?? io.env.VOUCH_STAGING_BUCKET;
  if (!bucket)
    throw new UsageError(
      '--bucket or $VOUCH_STAGING_BUCKET is required (the stack output StagingBucketName; for the local stack, `source .vouch/env`)',
    );
  const timeoutMs = values.wait === undefined ? undefined : parseDuration(values.wait, '--wait');
  const recordsTable = timeoutMs === undefined ? undefined : io.env.VOUCH_RECORDS_TABLE;
  if (timeoutMs !== undefined && !recordsTable)
    throw new UsageError('--wait reads the decision from $VOUCH_RECORDS_TABLE, which is not set');

  const plan = await planUpload(file, values.attestation ?? [], values.prefix);
  const client = cliClients.s3(io.env);
  const sent: Sent[] = [];
  try {
    // Attestations first: the artifact's own event then finds them at once instead of waiting as pending.
    for (const item of plan.objects) sent.push(await send(client, bucket, item));
  } catch (error) {
    const notSent = plan.objects.slice(sent.length).map((item) => item.key);
    io.err(
      `sent before the failure: ${sent.map((item) => item.key).join(', ') || 'nothing'}; not sent: ${notSent.join(', ')}`,
    );
    throw error;
  }
  const artifact = sent[sent.length - 1] as Sent;
  // An ETag stands for the version where the bucket is unversioned; unquoted, it needs no shell quoting.
  const version = artifact.versionId ?? artifact.eTag?.replace(/"/g, '');
  const target = `s3://${bucket}/${artifact.key}`;
  if (!values.json) {
    for (const item of sent)
      io.out(`uploaded ${item.file} → s3://${bucket}/${item.key} (${item.size} bytes)`);
    for (const skipped of plan.duplicates)
      io.out(`${skipped}: the same bytes as another attestation; sent once`);
  }
  if (timeoutMs === undefined) {
    if (values.json) io.out(JSON.stringify({ uploaded: sent.map((s) => ({ ...s, bucket })) }, null, 2));
    else io.out(`the verdict: ${followUp(target, version)}`);
    return EXIT.accepted;
  }
  io.err(`waiting up to ${values.wait} for the decision on ${target}…`);
  const result = await waitForDecision({
    records: new RecordStore(cliClients.documents(io.env), requireEnv('VOUCH_RECORDS_TABLE', io.env)),
    key: artifact.key,
    timeoutMs,
    ...(version === undefined ? {} : { version }),
  });
  if (values.json)
    io.out(
      JSON.stringify(
        {
          uploaded: sent.map((s) => ({ ...s, bucket })),
          decision: result.record ?? null,
          timedOut: result.timedOut,
        },
        null,
        2,
      ),
    );
  else if (result.record) io.out(describeRecord(result.record));
  if (result.timedOut) io.err(describeTimeout(result, timeoutMs, followUp(target, version)));
  return exitForStatus(result.record?.status);
}

/**
 * Reads and checks every input and names every object before anything is sent: a mistake found halfway
 * would leave attestations in staging without their artifact, and two files on one key would leave one.
 */
async function planUpload(
  file: string,
  attestationFiles: readonly string[],
  prefix: string,
): Promise<{ objects: Planned[]; duplicates: string[] }> {
  const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const artifactSize = await readableSize(file, 'artifact');
  const name = basename(file);
  const suffix = DEFAULT_ATTESTATION_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix)
    throw new UsageError(
      `${file}: a name ending in ${suffix} is read as an attestation in staging, never verified as an artifact; give the artifact as FILE and attestations with -a`,
    );
  const key = safeKey(`${base}${name}`);

  const objects: Planned[] = [];
  const duplicates: string[] = [];
  const byContent = new Map<string, string>();
  const taken = new Set<string>([key]);
  for (const attestation of attestationFiles) {
    const attestationSuffix = DEFAULT_ATTESTATION_SUFFIXES.find((s) => attestation.endsWith(s));
    if (!attestationSuffix)
      throw new UsageError(
        `${attestation}: an attestation file's name must end in ${DEFAULT_ATTESTATION_SUFFIXES.join(', ')}`,
      );
    const size = await readableSize(attestation, 'attestation');
    if (size > DEFAULT_LIMITS.maxAttestationBytes)
      throw new UsageError(
        `${attestation}: ${size} bytes; the verifier reads attestation files of at most ${DEFAULT_LIMITS.maxAttestationBytes}`,
      );
    const content = await readFile(attestation);
    const parsed = parseAttestationFile(content, attestation);
    if (parsed.attestations.length === 0)
      throw new UsageError(
        `${attestation} is not an attestation the verifier can read: ${parsed.errors[0]?.message ?? 'nothing in it'}`,
      );
    const digest = createHash('sha256').update(content).digest('hex');
    if (byContent.has(digest)) {
      duplicates.push(attestation);
      continue;
    }
    byContent.set(digest, attestation);
    const beside = `${key}${attestationSuffix}`;
    const target = taken.has(beside) ? `${key}.${digest.slice(0, 16)}${attestationSuffix}` : beside;
    taken.add(safeKey(target));
    objects.push({ file: attestation, key: target, size });
  }
  objects.push({ file, key, size: artifactSize });
  return { objects, duplicates };
}

async function readableSize(file: string, what: string): Promise<number> {
  try {
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new Error('not a regular file');
      return info.size;
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

/** The key the verifier would refuse (`..`, `//`, over 960 bytes, …) is refused here, before upload. */
function safeKey(key: string): string {
  try {
    return assertSafePath(key);
  } catch (error) {
    if (error instanceof VouchError) throw new UsageError(`${error.message}; the verifier would refuse it`);
    throw error;
  }
}

async function send(client: S3Client, bucket: string, item: Planned): Promise<Sent> {
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: item.key, Body: createReadStream(item.file) },
    partSize: 16 * 1024 * 1024,
    queueSize: 4,
  });
  // A progress bar only for a person watching: in CI logs it would be noise.
  const tty = process.stderr.isTTY === true;
  upload.on('httpUploadProgress', ({ loaded = 0 }) => {
    if (!tty || item.size === 0) return;
    const share = Math.min(1, loaded / item.size);
    const bar = '#'.repeat(Math.round(share * 30)).padEnd(30, '.');
    process.stderr.write(`\r  [${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${item.key}`);
  });
  const result = (await upload.done()) as { VersionId?: string; ETag?: string };
  if (tty) process.stderr.write('\n');
  return {
    ...item,
    ...(result.VersionId && result.VersionId !== 'null' ? { versionId: result.VersionId } : {}),
    ...(result.ETag ? { eTag: result.ETag } : {}),
  };
}
