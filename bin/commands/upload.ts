import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Client } from '#adapters/clients.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch upload FILE [--attestation FILE ...] [--prefix PREFIX] [--bucket BUCKET]

Uploads attestations, then the artifact, to the staging bucket (multipart for large files). An
attestation is stored beside the artifact as KEY + its own suffix (e.g. app.tar.gz.sigstore.json).

  --prefix PREFIX   key prefix, e.g. releases/1.2.0/ (default: none)
  --bucket BUCKET   staging bucket (default: $VOUCH_STAGING_BUCKET)
  -a, --attestation FILE   repeatable`;

const ATTESTATION_SUFFIXES = ['.intoto.jsonl', '.sigstore.json', '.sigstore', '.dsse.json'];

export async function uploadCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      attestation: { type: 'string', short: 'a', multiple: true },
      prefix: { type: 'string', default: '' },
      bucket: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
  );
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError(`expected one FILE\n\n${USAGE}`);
  const bucket = values.bucket ?? io.env.VOUCH_STAGING_BUCKET;
  if (!bucket) throw new UsageError('--bucket or $VOUCH_STAGING_BUCKET is required');
  const key = posix.join(values.prefix, basename(file));
  const client = s3Client(io.env);
  // Attestations first: the artifact's own event then finds them at once instead of waiting as pending.
  for (const attestation of values.attestation ?? []) {
    const suffix = ATTESTATION_SUFFIXES.find((s) => attestation.endsWith(s));
    if (!suffix)
      throw new UsageError(
        `${attestation}: an attestation file must end in ${ATTESTATION_SUFFIXES.join(', ')}`,
      );
    await send(client, bucket, `${key}${suffix}`, attestation, io);
  }
  await send(client, bucket, key, file, io);
  return EXIT.accepted;
}

async function send(client: ReturnType<typeof s3Client>, bucket: string, key: string, file: string, io: Io) {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: createReadStream(file) },
    partSize: 16 * 1024 * 1024,
    queueSize: 4,
  });
  const tty = process.stderr.isTTY;
  upload.on('httpUploadProgress', ({ loaded = 0 }) => {
    if (!tty || size === 0) return;
    const share = Math.min(1, loaded / size);
    const bar = '#'.repeat(Math.round(share * 30)).padEnd(30, '.');
    process.stderr.write(`\r  [${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${key}`);
  });
  await upload.done();
  if (tty) process.stderr.write('\n');
  io.out(`uploaded s3://${bucket}/${key} (${size} bytes)`);
}
