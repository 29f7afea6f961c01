import type { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  type FetchResult,
  fetchVerified,
  LegacySummary,
  type SummaryKeys,
  summaryKeyFor,
} from '#adapters/deployer.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { getPublicKey } from '#adapters/kms.ts';
import { isMissing, S3Store } from '#adapters/s3-store.ts';
import { isRegistryKeyId, publicKeyFromPem, type Reason, showHint } from '#core/index.ts';
import { cliClients } from '../aws.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch fetch s3://BUCKET/KEY -o FILE [--vsa-key-id KEY_ARN ... | --key PEM ...] [--allow-audit] [--json]

Downloads a promoted artifact and writes FILE only if its verification summary (KEY.vsa.dsse.json)
is signed by a summary (VSA) key you trust, was valid when the summary was written, names exactly the
downloaded bytes under exactly this key, and has not expired.

Which summary keys are trusted:
  --vsa-key-id KEY_ARN  pinned key IDs (repeatable; or $VOUCH_VSA_KEY_IDS, comma-separated): a summary
                        signed by any other key is refused. With $VOUCH_KEYS_TABLE the registry must
                        also hold it as a summary key, not revoked when the summary was written; without
                        it, its public key is read from KMS
  --key PEMFILE         a summary public key (repeatable)
  (neither)             the key registry ($VOUCH_KEYS_TABLE): any summary key it holds, inside its window
                        and not revoked when the summary was written
  --vsa-key KMS_KEY     whatever key an alias names now (not recommended: whoever moves the alias
                        chooses what you trust); without a table and pins, $VOUCH_VSA_KEY_ID or alias/vouch-vsa

  -o, --output FILE     where to write the artifact (written atomically); - for standard output,
                        written only once the whole artifact has been verified
  --allow-audit         accept an artifact promoted in audit mode although it failed verification
  --json                print the check as JSON (not with -o -)

exit status: 0 verified and written; 1 refused (no such artifact, no or invalid summary, other bytes,
FAILED), nothing written; 2 usage error; 3 AWS unavailable`;

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  key: { type: 'string', multiple: true },
  'vsa-key-id': { type: 'string', multiple: true },
  'vsa-key': { type: 'string' },
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
  const trust = await trustedSummaryKeys(values, io);
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
        ...trust,
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
      if (result.validUntil) say(`  its verification summary is valid until ${result.validUntil}`);
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

/**
 * Which summary keys a deployer trusts: pinned key IDs, PEM keys, the registry, or (not recommended)
 * whatever an alias names. A pin or the registry resolves the key the summary names, and only a key
 * registered as a summary key counts: a pipeline's signing key never vouches for a promotion.
 */
async function trustedSummaryKeys(
  values: { key?: string[]; 'vsa-key-id'?: string[]; 'vsa-key'?: string },
  io: Io,
): Promise<{ vsaPublicKey?: KeyObject[]; vsaKeys?: SummaryKeys }> {
  const pins = [
    ...(values['vsa-key-id'] ?? []),
    ...(io.env.VOUCH_VSA_KEY_IDS ?? '').split(',').map((id) => id.trim()),
  ].filter((id) => id !== '');
  const choices = [values.key?.length, pins.length, values['vsa-key']].filter(Boolean).length;
  if (choices > 1)
    throw new UsageError('give one of --key, --vsa-key-id (or $VOUCH_VSA_KEY_IDS) and --vsa-key');
  if (values.key?.length) return { vsaPublicKey: await Promise.all(values.key.map(readPublicKey)) };
  for (const pin of pins) {
    if (!isRegistryKeyId(pin)) throw new UsageError(`--vsa-key-id ${pin} is not a KMS key ARN`);
  }
  const table = io.env.VOUCH_KEYS_TABLE;
  const registry = table ? new KeyRegistry(cliClients.documents(io.env), table) : undefined;
  if (pins.length > 0 || (registry && !values['vsa-key'])) {
    const kms = cliClients.kms(io.env);
    return {
      vsaKeys: async (hint) => {
        if (registry) return summaryKeyFor(registry, hint, pins);
        // Pinned, without the registry: the pin is the trust; KMS has the public key (while enabled).
        if (!pins.includes(hint))
          return refusal(`the summary is signed by ${showHint(hint)}, which is not a pinned summary key`);
        return { keyId: hint, publicKey: (await getPublicKey(kms, hint)).publicKey };
      },
    };
  }
  const alias = values['vsa-key'] ?? io.env.VOUCH_VSA_KEY_ID ?? 'alias/vouch-vsa';
  io.err(
    `vouch fetch: trusting whatever key ${alias} names now; pin summary key IDs (--vsa-key-id) or set VOUCH_KEYS_TABLE`,
  );
  const { keyArn, publicKey } = await getPublicKey(cliClients.kms(io.env), alias);
  return {
    vsaKeys: async (hint) =>
      hint === keyArn
        ? { keyId: keyArn, publicKey }
        : refusal(`the summary is signed by ${showHint(hint)}, not by ${alias} (${keyArn})`),
  };
}

const refusal = (message: string): Reason => ({ code: 'VERIFICATION_FAILED', message });
