import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { fetchVerified } from '#adapters/deployer.ts';
import { getPublicKey } from '#adapters/kms.ts';
import type { SignFn } from '#core/index.ts';
import type { ArtifactRecord, ArtifactStatus } from '#core/lifecycle.ts';
import type { PipelineDeps } from '../../lambdas/verify/pipeline.ts';
import { type LocalGate, type LocalGateOptions, startLocalGate, VSA_KEY_ALIAS } from '../../local/gate.ts';

export const EXAMPLE_POLICY = new URL('../../policies/example.yaml', import.meta.url).pathname;

/**
 * SDK retries as the standard strategy makes them (3 attempts, retryable errors only, a retry quota per
 * client) but milliseconds apart: what a test of throttling or an outage waits for is the pipeline's
 * behaviour, not the backoff.
 */
export const fastSdkRetries = () => ({
  retryStrategy: new ConfiguredRetryStrategy(2, (attempt: number) => attempt),
});

/** Starts the whole local gate for a test, with fast redelivery and retries; `close` also removes its data. */
export async function startTestGate(options: Partial<LocalGateOptions> = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'vouch-gate-'));
  const gate = await startLocalGate({
    policyPath: EXAMPLE_POLICY,
    retryDelayMs: 5,
    clientOverrides: fastSdkRetries,
    ...options,
    dataDir,
  });
  return {
    ...gate,
    dataDir,
    async close(keepData = false) {
      await gate.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type TestGate = Awaited<ReturnType<typeof startTestGate>>;

export interface Build {
  readonly key: string;
  readonly bytes: Buffer;
}

/** `count` builds under `releases/<run>/`, each with random bytes. */
export function builds(count: number, run: string, size = 4096): Build[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `releases/${run}/app-${i}.tar.gz`,
    bytes: randomBytes(size),
  }));
}

/**
 * What a pipeline does: signed provenance beside the artifact, attestation first. Signed through the
 * gate's signing alias, or by `signWith` (a key the test registered).
 */
export async function upload(
  gate: LocalGate,
  build: Build,
  bytes: Buffer = build.bytes,
  signWith?: SignFn,
): Promise<void> {
  const staging = gate.stack.names.stagingBucket;
  await gate.store.put(
    staging,
    `${build.key}.sigstore.json`,
    await gate.provenance(build.key.split('/').pop() ?? '', build.bytes, signWith),
  );
  await gate.store.put(staging, build.key, bytes, {}, 'application/gzip');
}

export async function recordsOf(gate: LocalGate, build: Build): Promise<ArtifactRecord[]> {
  return gate.records.byKey(build.key);
}

export async function statusOf(gate: LocalGate, build: Build): Promise<ArtifactStatus | 'missing'> {
  const records = await recordsOf(gate, build);
  if (records.length > 1) throw new Error(`${build.key} has ${records.length} records`);
  return records[0]?.status ?? 'missing';
}

/** Counts, per object key, the copies that put an artifact into the deployment bucket. */
export function countPromotions(counts: Map<string, number>) {
  return (deps: PipelineDeps): PipelineDeps => {
    const s3 = deps.s3;
    const copyVersion = s3.copyVersion.bind(s3);
    const streamVerified = s3.streamVerified.bind(s3);
    const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
    s3.copyVersion = async (source, bucket, key, metadata) => {
      await copyVersion(source, bucket, key, metadata);
      bump(key);
    };
    s3.streamVerified = async (source, bucket, key, algorithms, metadata, accept) => {
      const result = await streamVerified(source, bucket, key, algorithms, metadata, accept);
      if (result.written) bump(key);
      return result;
    };
    return deps;
  };
}

/** A free TCP port on 127.0.0.1 (for restarting servers on the same address, or a child process binding it). */
export async function freePort(): Promise<number> {
  // Below the ephemeral range (Linux 32768–60999, elsewhere 49152–65535): no outgoing connection and no
  // `listen(0)` of another test takes it between this check and the server that binds it.
  for (;;) {
    const port = 20_000 + randomInt(12_000);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
}

/**
 * The deployer's own check of a promoted build, as `vouch fetch` makes it: the object's bytes, and a VSA
 * signed by the gate's VSA key (read from its KMS) that names exactly them under that key and says
 * PASSED. Returns what it found; `ok` only if all of that holds and the bytes are the build's.
 */
export async function fetchAsDeployer(gate: LocalGate, build: Build) {
  const { publicKey } = await getPublicKey(gate.kms, VSA_KEY_ALIAS);
  const output = join(mkdtempSync(join(tmpdir(), 'vouch-deployer-')), 'artifact');
  const result = await fetchVerified({
    store: gate.store,
    bucket: gate.stack.names.deploymentBucket,
    key: build.key,
    output,
    vsaPublicKey: publicKey,
  });
  const sameBytes = result.ok && readFileSync(output).equals(build.bytes);
  rmSync(dirname(output), { recursive: true, force: true });
  return { ...result, ok: result.ok && sameBytes, sameBytes };
}
