import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dsse } from '@sigstore/core';
import {
  compilePolicy,
  createStatement,
  digestFile,
  evaluate,
  IN_TOTO_PAYLOAD_TYPE,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import { type Figure, interleavedRates } from './harness.ts';

const run = promisify(execFile);
const GiB = 1024 ** 3;

/**
 * A sparse file: the same bytes (zeros) for us and for openssl, read from the page cache, so the
 * comparison is hashing and read syscalls, not the disk. SHA-256 speed does not depend on the data.
 */
function sparseFile(dir: string, bytes: number): string {
  const path = join(dir, `artifact-${bytes}`);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return path;
}

export async function digestThroughput(dir: string): Promise<Figure> {
  const file = sparseFile(dir, GiB);
  const mibPerSecond = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    return GiB / 2 ** 20 / ((performance.now() - start) / 1000);
  };
  // Alternate the two, best of three each, so a busy moment does not land on one side only.
  let ours = 0;
  let openssl = 0;
  for (let round = 0; round < 3; round++) {
    openssl = Math.max(openssl, await mibPerSecond(() => run('openssl', ['dgst', '-sha256', file])));
    ours = Math.max(ours, await mibPerSecond(() => digestFile(file, ['sha256'])));
  }
  return {
    name: 'streaming sha256 digest, 1 GiB file',
    value: ours,
    unit: 'MiB/s',
    baseline: { name: 'openssl dgst -sha256', value: openssl },
    target: { atLeast: 0.9 },
  };
}

/** Peak RSS of a child digesting 5 GiB, minus the peak RSS of the same child that only loads the code. */
export async function digestMemory(dir: string): Promise<Figure> {
  const file = sparseFile(dir, 5 * GiB);
  const child = async (digest: boolean) => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', new URL('./digest-child.ts', import.meta.url).pathname, digest ? file : '-'],
      {
        maxBuffer: 1 << 20,
      },
    );
    return Number(JSON.parse(stdout).maxRssKiB) / 1024;
  };
  const idle = await child(false);
  const busy = await child(true);
  return {
    name: 'peak RSS added while digesting 5 GiB',
    value: busy - idle,
    unit: 'MiB',
    target: { atMost: 128 },
  };
}

/** Attestations verified per second: parse + DSSE + ECDSA P-256 signature + policy, no I/O. */
export async function verificationRate(): Promise<Figure> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyId = 'arn:aws:kms:us-east-1:000000000000:key/bench';
  const digest = createHash('sha256').update('artifact').digest('hex');
  const statement = createStatement(
    [{ name: 'app', digests: { sha256: digest } }],
    'https://slsa.dev/provenance/v1',
    {
      buildDefinition: { externalParameters: { workflow: { repository: 'https://github.com/acme/app' } } },
      runDetails: { builder: { id: 'https://github.com/acme/builder@v1' } },
    },
  );
  const bundle = JSON.stringify(
    await signStatement(statement, async (message) => ({
      signature: sign('sha256', message, privateKey),
      keyId,
    })),
  );
  const policy = compilePolicy(
    {
      version: 1,
      rules: [
        {
          name: 'all',
          match: ['**'],
          require: [
            {
              type: 'https://slsa.dev/provenance/v1',
              signers: [{ registry: true }],
              builderIds: ['https://github.com/acme/builder'],
            },
          ],
        },
      ],
    },
    'sha256:bench',
  );
  const keys = staticKeyLookup([{ keyId, publicKey, origin: 'registry' }]);
  const observedAt = new Date();
  const verifyOne = () => {
    const parsed = parseAttestationFile(bundle, 'b');
    const decision = evaluate({
      artifact: { path: 'app', digests: { sha256: digest } },
      attestations: parsed.attestations,
      policy,
      keys,
      observedAt,
    });
    if (!decision.accepted)
      throw new Error(`bench attestation rejected: ${JSON.stringify(decision.reasons)}`);
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const pae = dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload);
  const signature = sign('sha256', pae, privateKey);
  const rawVerify = () => {
    if (!verify('sha256', pae, publicKey, signature)) throw new Error('raw verify failed');
  };
  const rates = await interleavedRates(verifyOne, rawVerify);
  return {
    name: 'attestations verified (parse+DSSE+sig+policy)',
    value: rates.subject,
    unit: 'ops/s',
    baseline: { name: 'raw crypto.verify P-256', value: rates.baseline },
    target: { atLeast: 0.5 },
  };
}

export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
