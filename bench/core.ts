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
  loadTrustRoot,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import {
  FIXTURE_BUNDLES,
  FIXTURE_IDENTITY,
  FIXTURE_ISSUER,
  FIXTURE_PREDICATE,
  FIXTURE_SHA512,
  FIXTURES_AVAILABLE,
  readFixture,
  warnIfFixturesMissing,
} from '../test/helpers/fixtures.ts';
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
    // Two processes differ by a few MiB whatever they do: a difference below zero is that noise.
    value: Math.max(0, busy - idle),
    unit: 'MiB',
    target: { atMost: 128 },
    note: `peak RSS ${busy.toFixed(1)} MiB digesting vs ${idle.toFixed(1)} MiB loading the same code only`,
  };
}

/**
 * One keyed attestation check as the pipeline does it: parse a DSSE bundle signed by a registry key, then
 * DSSE + ECDSA P-256 signature + policy, no I/O. Also returns a raw `crypto.verify` of the same PAE.
 */
async function keyedVerification(): Promise<{ verifyOne: () => void; rawVerify: () => void }> {
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
  return { verifyOne, rawVerify };
}

/** Attestations verified per second: parse + DSSE + ECDSA P-256 signature + policy, no I/O. */
export async function verificationRate(): Promise<Figure> {
  const { verifyOne, rawVerify } = await keyedVerification();
  const rates = await interleavedRates(verifyOne, rawVerify);
  return {
    name: 'attestations verified (parse+DSSE+sig+policy)',
    value: rates.subject,
    unit: 'ops/s',
    baseline: { name: 'raw crypto.verify P-256', value: rates.baseline },
    target: { atLeast: 0.5 },
  };
}

/**
 * Keyless Sigstore bundles verified per second: the nine real sigstore-js bundles in ../shared/fixtures
 * (Fulcio certificate chain, Rekor entry and inclusion proof or SET, signer identity and policy), in
 * turn, against the pinned public-good trusted root; no I/O. Baseline: the keyed DSSE attestation check
 * of `verificationRate` (a bundle signed by a registry key), measured interleaved in the same run.
 * Without ../shared/fixtures there is no figure, and a warning says why.
 */
export async function keylessVerificationRate(): Promise<Figure[]> {
  if (!FIXTURES_AVAILABLE) {
    warnIfFixturesMissing();
    return [];
  }
  const bundles = FIXTURE_BUNDLES.map((name) => readFixture(name));
  const policy = compilePolicy(
    {
      version: 1,
      rules: [
        {
          name: 'npm',
          match: ['**'],
          require: [
            { type: FIXTURE_PREDICATE, signers: [{ issuer: FIXTURE_ISSUER, identity: FIXTURE_IDENTITY }] },
          ],
        },
      ],
    },
    'sha256:bench-keyless',
  );
  const trustRoot = loadTrustRoot();
  const keys = staticKeyLookup([]);
  const artifact = { path: 'sigstore-1.0.0.tgz', digests: { sha512: FIXTURE_SHA512 } };
  const observedAt = new Date();
  let next = 0;
  const verifyKeyless = () => {
    const content = bundles[next++ % bundles.length] as string;
    const parsed = parseAttestationFile(content, 'bundle.sigstore');
    const decision = evaluate({
      artifact,
      attestations: parsed.attestations,
      policy,
      keys,
      trustRoot,
      observedAt,
    });
    if (!decision.accepted)
      throw new Error(`bench keyless bundle rejected: ${JSON.stringify(decision.reasons)}`);
  };
  // Every fixture must verify before anything is timed.
  for (let i = 0; i < bundles.length; i++) verifyKeyless();
  const { verifyOne } = await keyedVerification();
  const rates = await interleavedRates(verifyKeyless, verifyOne);
  return [
    {
      name: `keyless Sigstore bundles verified (${bundles.length} real)`,
      value: rates.subject,
      unit: 'bundles/s',
      baseline: { name: 'keyed DSSE attestation check', value: rates.baseline },
      // #15: the authority chains checked once per parsed root, each leaf encoded once.
      target: { atLeast: 200, of: 'value' },
    },
  ];
}

export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
