import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseS3Notification } from '#core/index.ts';
import { type LocalGate, startLocalGate } from '../local/gate.ts';
import { createEventQueue } from '../local/queue.ts';
import type { Figure } from './harness.ts';

const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};
/** Artifacts per side (Vouch and bare), split over two rounds each. */
const ARTIFACTS = positive('VOUCH_BENCH_ARTIFACTS', 60);
const ARTIFACT_KIB = positive('VOUCH_BENCH_ARTIFACT_KIB', 1024);
/** Uploads in flight at once, as a CI job pushing several files would have. */
const UPLOAD_CONCURRENCY = positive('VOUCH_BENCH_UPLOAD_CONCURRENCY', 4);
/** Batches handled at once on each side, as concurrent Lambda invocations behind SQS. */
const HANDLER_CONCURRENCY = positive('VOUCH_BENCH_HANDLER_CONCURRENCY', 4);
const WARM_UP = 4;

/** Artifacts per latency run, at each upload concurrency. */
const LATENCY_ARTIFACTS = positive('VOUCH_BENCH_LATENCY_ARTIFACTS', 32);
const promotedAt = new Map<string, number>();

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

interface Artifact {
  readonly key: string;
  readonly bytes: Buffer;
  readonly attestation: string;
}

/**
 * End-to-end throughput on the local gate (s3rver + dynalite + local KMS, the real verifier behind the
 * local SQS stand-in): N artifacts of ARTIFACT_KIB, each with provenance signed through KMS beside it,
 * uploaded → verified → recorded → promoted with a VSA. The baseline is a bare pipeline on the same
 * servers, with the same queue and concurrency, that only copies each staged object to the deployment
 * bucket on its event. Rounds alternate bare, Vouch, Vouch, bare. The KMS server's per-operation counts
 * over the Vouch rounds give the KMS-calls figure (attestations are all signed before counting starts).
 */
export async function pipelineFigures(): Promise<Figure[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vouch-bench-'));
  const gate = await startLocalGate({
    // When each artifact's promotion was decided, from the verifier's own decision log.
    observe: {
      logger: {
        info: (message: string, ...extra: unknown[]) => {
          const data = extra[0] as { objectKey?: string; status?: string } | undefined;
          if (message === 'decision' && data?.status === 'promoted' && data.objectKey)
            promotedAt.set(data.objectKey, performance.now());
        },
        warn: () => undefined,
        error: () => undefined,
      },
      metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined },
    },
    dataDir,
    policyPath: new URL('../policies/example.yaml', import.meta.url).pathname,
    delivery: 'manual',
    separateProcess: process.env.VOUCH_BENCH_ONE_PROCESS === undefined,
    // Messages per verifier batch (default: the stack's); batches here take whatever is ready (no window).
    ...(process.env.VOUCH_BENCH_BATCH_SIZE ? { batchSize: positive('VOUCH_BENCH_BATCH_SIZE', 1) } : {}),
    concurrency: HANDLER_CONCURRENCY,
    maxReceiveCount: 3,
  });
  try {
    return await measure(gate);
  } finally {
    await gate.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measure(gate: LocalGate): Promise<Figure[]> {
  const { stack, store } = gate;
  const bareHandler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        try {
          for (const object of parseS3Notification(record.body)) {
            await store.client.send(
              new CopyObjectCommand({
                Bucket: stack.names.deploymentBucket,
                Key: object.key,
                CopySource: `${object.bucket}/${object.key}`,
              }),
            );
          }
        } catch {
          failures.push({ itemIdentifier: record.messageId });
        }
      }),
    );
    return { batchItemFailures: failures };
  };
  const bare = createEventQueue({
    handler: bareHandler,
    maxReceiveCount: 3,
    concurrency: HANDLER_CONCURRENCY,
  });
  // Events under bare/ go to the bare pipeline, the rest to Vouch's verifier.
  stack.onStagingNotification((body) => {
    const bareEvent = parseS3Notification(body).some((event) => event.key.startsWith('bare/'));
    (bareEvent ? bare : gate.queue).send(body);
  });

  const make = async (side: string, count: number): Promise<Artifact[]> =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const key = `${side === 'bare' ? 'bare' : 'releases'}/${side}-${randomBytes(4).toString('hex')}/${i}/app.tar.gz`;
        const bytes = randomBytes(ARTIFACT_KIB * 1024);
        return { key, bytes, attestation: await gate.provenance('app.tar.gz', bytes) };
      }),
    );

  const uploadedAt = new Map<string, number>();
  const run = async (
    side: 'bare' | 'vouch',
    artifacts: readonly Artifact[],
    uploads = UPLOAD_CONCURRENCY,
  ) => {
    const queue = side === 'bare' ? bare : gate.queue;
    const start = performance.now();
    let next = 0;
    const uploader = async () => {
      for (let i = next++; i < artifacts.length; i = next++) {
        const artifact = artifacts[i] as Artifact;
        await store.put(stack.names.stagingBucket, `${artifact.key}.sigstore.json`, artifact.attestation);
        await store.put(stack.names.stagingBucket, artifact.key, artifact.bytes, {}, 'application/gzip');
        uploadedAt.set(artifact.key, performance.now());
      }
    };
    await Promise.all(Array.from({ length: uploads }, uploader));
    const uploadMs = performance.now() - start;
    for (const artifact of artifacts)
      await waitFor(queue, () => deployed(gate, artifact.key, side === 'vouch'));
    const ms = performance.now() - start;
    if (queue.deadLetters.length > 0)
      throw new Error(`bench pipeline: dead letters: ${queue.deadLetters[0]?.lastError}`);
    return { count: artifacts.length, ms, uploadMs };
  };

  await run('bare', await make('bare', WARM_UP));
  await run('vouch', await make('vouch', WARM_UP));

  const halves = [Math.ceil(ARTIFACTS / 2), Math.floor(ARTIFACTS / 2)];
  const sets = {
    bare: [await make('bare', halves[0] ?? 0), await make('bare', halves[1] ?? 0)],
    vouch: [await make('vouch', halves[0] ?? 0), await make('vouch', halves[1] ?? 0)],
  };
  stack.kms.resetCalls();
  const totals = { bare: { count: 0, ms: 0, uploadMs: 0 }, vouch: { count: 0, ms: 0, uploadMs: 0 } };
  for (const [side, half] of [
    ['bare', 0],
    ['vouch', 0],
    ['vouch', 1],
    ['bare', 1],
  ] as const) {
    const result = await run(side, sets[side][half] ?? []);
    totals[side].count += result.count;
    totals[side].ms += result.ms;
    totals[side].uploadMs += result.uploadMs;
  }
  const calls = new Map(stack.kms.calls);

  // Upload → promoted latency: from the artifact's PUT answered to the verifier's decision, one upload
  // at a time and sixteen at once.
  const latency: Figure[] = [];
  for (const uploads of [1, 16]) {
    const artifacts = await make('vouch', LATENCY_ARTIFACTS);
    await run('vouch', artifacts, uploads);
    const ms = artifacts.map(
      ({ key }) => (promotedAt.get(key) ?? Number.NaN) - (uploadedAt.get(key) ?? Number.NaN),
    );
    if (ms.some(Number.isNaN)) throw new Error('bench pipeline: a promotion without its decision time');
    latency.push({
      name: `upload→promoted latency, ${uploads} upload${uploads > 1 ? 's' : ''} at once, p50`,
      value: percentile(ms, 50),
      unit: 'ms',
      note: `p99 ${percentile(ms, 99).toFixed(0)} ms over ${ms.length} artifacts of ${ARTIFACT_KIB} KiB (no batching window locally)`,
    });
  }

  const rate = (t: { count: number; ms: number }) => (t.count * 1000) / t.ms;
  const signs = calls.get('Sign') ?? 0;
  const others = [...calls].filter(([op]) => op !== 'Sign');
  const otherCalls = others.reduce((sum, [, n]) => sum + n, 0);
  const verifications = totals.vouch.count;
  // Summaries are signed by the batch: at least one Sign, never more than one per promotion.
  if (signs < 1 || signs > verifications)
    throw new Error(`bench pipeline: ${signs} KMS Sign calls for ${verifications} promotions`);
  return [
    {
      name: `end-to-end pipeline, ${ARTIFACTS}× ${ARTIFACT_KIB} KiB + provenance`,
      value: rate(totals.vouch),
      unit: 'artifacts/s',
      baseline: { name: 'bare copy-on-event, same servers', value: rate(totals.bare) },
      // #15: at least half the bare pipeline's throughput, by cutting requests.
      target: { atLeast: 0.5 },
      note: `upload→all promoted: Vouch ${totals.vouch.ms.toFixed(0)} ms (uploads done at ${totals.vouch.uploadMs.toFixed(0)} ms), bare ${totals.bare.ms.toFixed(0)} ms (uploads done at ${totals.bare.uploadMs.toFixed(0)} ms); ${UPLOAD_CONCURRENCY} uploads and ${HANDLER_CONCURRENCY} batches in flight, ABBA rounds`,
    },
    {
      name: 'KMS calls per verification (excl. VSA Sign)',
      value: otherCalls / verifications,
      unit: 'calls',
      target: { atMost: 0 },
      note: `local KMS, ${verifications} artifacts after warm-up: every op but Sign counted (${others.map(([op, n]) => `${op} ${n}`).join(', ') || 'none'}); Sign = the VSA signatures, one per verifier batch: ${signs} = ${(signs / verifications).toFixed(2)} per promotion (no batching window here)`,
    },
    ...latency,
  ];
}

async function deployed(gate: LocalGate, key: string, recorded: boolean): Promise<boolean> {
  if (!(await gate.store.head(gate.stack.names.deploymentBucket, key))) return false;
  if (!recorded) return true;
  const [record] = await gate.records.byKey(key);
  if (record?.status === 'rejected')
    throw new Error(`bench pipeline: ${key} rejected: ${JSON.stringify(record.reasons)}`);
  return record?.status === 'promoted';
}

/** Polls until `done`, draining the queue between polls (s3rver emits its events asynchronously). */
async function waitFor(queue: { drain(): Promise<void> }, done: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 2000; tries++) {
    if (await done()) return;
    await queue.drain();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error('bench pipeline: timed out waiting for promotion');
}
