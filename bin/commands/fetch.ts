import type { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { KMSClient } from '@aws-sdk/client-kms';
import { type FetchResult, fetchVerified, LegacySummary } from '#adapters/deployer.ts';
import { getPublicKey } from '#adapters/kms.ts';
import { isMissing, S3Store } from '#adapters/s3-store.ts';
import { keyIdOf, publicKeyFromPem } from '#core/index.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch fetch s3://BUCKET/KEY -o FILE [--key VSA_PUBLIC_KEY.pem | --vsa-key KMS_KEY] [--vsa-key-id KEYID] [--allow-audit] [--json]

Downloads a promoted artifact and writes FILE only if its verification summary (KEY.vsa.dsse.json)
is signed by the pipeline's VSA key, names exactly the downloaded bytes under KEY, and has not expired.

  -o, --output FILE     where to write the artifact (written atomically); - for standard output,
                        written only once the whole artifact has been verified
  --key PEMFILE         the pipeline's VSA public key
  --vsa-key KMS_KEY     or read it from KMS (default: $VOUCH_VSA_KEY_ID or alias/vouch-vsa)
  --vsa-key-id KEYID    refuse unless that key is this one (the keyid every summary's signature
                        carries): pins the key while reading it through an alias
  --allow-audit         accept an artifact promoted in audit mode although it failed verification
  --json                print the check as JSON (not with -o -)

exit status: 0 verified and written; 1 refused (no such artifact, no or invalid summary, other bytes,
FAILED, expired), nothing written; 2 usage error; 3 AWS unavailable`;

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  key: { type: 'string' },
  'vsa-key': { type: 'string' },
  'vsa-key-id': { type: 'string' },
  'allow-audit': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function fetchCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: 'fetch', options: OPTIONS });
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const [uri, ...extra] = positionals;
  const match = uri ? /^s3:\/\/([^/]+)\/(.+)$/.exec(uri) : null;
  if (!match?.[1] || !match[2] || extra.length > 0)
    throw new UsageError('expected one s3://BUCKET/KEY; see `vouch fetch --help`');
  if (!values.output) throw new UsageError('--output FILE (or - for standard output) is required');
  const toStdout = values.output === '-';
  if (toStdout && values.json)
    throw new UsageError('-o - writes the artifact to standard output: leave out --json');
  // With the artifact on standard output, everything else goes to standard error.
  const say = toStdout ? io.err : io.out;
  const kmsKey = values['vsa-key'] ?? io.env.VOUCH_VSA_KEY_ID ?? 'alias/vouch-vsa';
  const vsaPublicKey = values.key
    ? await readPublicKey(values.key)
    : await vsaKeyFromKms(cliClients.kms(io.env), kmsKey);
  const pinned = values['vsa-key-id'];
  if (pinned !== undefined && keyIdOf(vsaPublicKey) !== pinned) {
    io.err(
      `vouch fetch: the VSA key ${values.key ? `in ${values.key}` : `KMS returned for ${kmsKey}`} is ${keyIdOf(vsaPublicKey)}, not the pinned ${pinned}; nothing written`,
    );
    return EXIT.rejected;
  }
  // To standard output only what has been verified: the bytes wait in a private temporary file first.
  const scratch = toStdout ? await mkdtemp(join(tmpdir(), 'vouch-fetch-')) : undefined;
  const output = scratch ? join(scratch, 'artifact') : values.output;
  try {
    let result: FetchResult;
    try {
      result = await fetchVerified({
        store: new S3Store(cliClients.s3(io.env)),
        bucket: match[1],
        key: match[2],
        output,
        vsaPublicKey,
        allowAudit: values['allow-audit'],
      });
    } catch (error) {
      if (error instanceof LegacySummary) {
        io.err(`vouch fetch: ${error.message}; nothing written`);
        return EXIT.rejected;
      }
      if (isMissing(error)) {
        io.err(
          `vouch fetch: ${uri} or its verification summary does not exist in the deployment bucket (not promoted, or pulled after a revocation); nothing written`,
        );
        return EXIT.rejected;
      }
      throw error;
    }
    if (values.json) io.out(JSON.stringify(result, null, 2));
    else if (result.ok) {
      if (toStdout) await pipeline(createReadStream(output), io.stdout ?? process.stdout, { end: false });
      say(`VERIFIED  ${uri} ${result.digest} → ${toStdout ? 'standard output' : values.output}`);
      say(`  its verification summary is valid until ${result.validUntil}`);
    } else {
      say(
        `REFUSED  ${uri} ${result.digest} (verification summary: ${result.verificationResult ?? 'invalid'}); nothing written`,
      );
      for (const reason of [...result.decision.reasons, ...result.problems])
        say(`  ${reason.code}: ${reason.message}`);
    }
    return result.ok ? EXIT.accepted : EXIT.rejected;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

async function readPublicKey(file: string): Promise<KeyObject> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read key ${file}: ${(error as Error).message}`);
  }
  return publicKeyFromPem(pem, file);
}

async function vsaKeyFromKms(kms: KMSClient, keyId: string): Promise<KeyObject> {
  return (await getPublicKey(kms, keyId)).publicKey;
}
