import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalGate, Service } from '../local/gate.ts';
import { startLocalGate } from '../local/gate.ts';
import { type FlakyProxy, startFlakyProxy } from '../test/helpers/flaky-proxy.ts';
import { MemoryS3 } from '../test/helpers/memory-s3.ts';
import { dynamoCapacityMeter } from './capacity.ts';
import type { Figure } from './harness.ts';

/** What one artifact cost, per service, on one path: averages over the measured artifacts. */
export interface RequestProfile {
  readonly path: 'versioned' | 'unversioned';
  readonly artifacts: number;
  /** Requests by operation, per artifact. */
  readonly s3: Record<string, number>;
  readonly dynamodb: Record<string, number>;
  readonly kms: Record<string, number>;
  readonly s3Writes: number;
  readonly s3Reads: number;
  readonly dynamoRequests: number;
  readonly writeUnits: number;
  readonly indexWriteUnits: number;
  readonly readUnits: number;
  readonly signs: number;
  /** Write units by operation, per artifact. */
  readonly writeUnitsBy: Record<string, number>;
  /** Artifacts uploaded per second (with their attestations): what fills a batch within its window. */
  readonly arrivalRate: number;
}

const S3_WRITES = new Set([
  'PutObject',
  'CopyObject',
  'UploadPart',
  'UploadPartCopy',
  'CreateMultipartUpload',
  'CompleteMultipartUpload',
  'PostObject',
]);
const S3_READS = new Set(['GetObject', 'HeadObject', 'ListObjects', 'ListParts']);

/** The in-memory store's request names, as the S3 API calls them. */
const MEMORY_OPERATIONS: Record<string, string> = {
  open: 'GetObject',
  head: 'HeadObject',
  put: 'PutObject',
  delete: 'DeleteObject',
  copyVersion: 'CopyObject',
  streamVerified: 'StreamVerified',
};

const perArtifact = (counts: Map<string, number>, artifacts: number, only?: (op: string) => boolean) =>
  Object.fromEntries(
    [...counts]
      .filter(([op]) => !op.includes(' ') && (only ? only(op) : true))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, n]) => [op, n / artifacts]),
  );
const sum = (record: Record<string, number>, pick: (op: string) => boolean) =>
  Object.entries(record).reduce((total, [op, n]) => total + (pick(op) ? n : 0), 0);

/**
 * Per-artifact requests to S3, DynamoDB and KMS on the local gate, counted on the wire by the counting
 * proxy, DynamoDB capacity priced by bench/capacity.ts. Each artifact is the happy path: signed provenance
 * uploaded beside it first, then the artifact, promoted with its summary. `unversioned` is s3rver (no
 * versioning: the promoter streams the bytes again); `versioned` puts the in-memory versioned S3 of the
 * tests in s3rver's place for the verifier (the path AWS takes), DynamoDB and KMS staying the real local
 * servers. `concurrency` uploads in flight at once; a warm-up artifact first is not counted. The local
 * queue batches as the stack's event source does (up to DEFAULT_VERIFIER_BATCH_SIZE messages, a 1 s
 * window): the KMS figure depends on it, as in AWS.
 */
export async function requestProfile(
  path: RequestProfile['path'],
  artifacts = 128,
  concurrency = 16,
  sizeKib = 64,
): Promise<RequestProfile> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vouch-bench-requests-'));
  const proxies = new Map<Service, FlakyProxy>();
  let capacity: ReturnType<typeof dynamoCapacityMeter> | undefined;
  const memory = path === 'versioned' ? new MemoryS3() : undefined;
  let gate: LocalGate | undefined;
  try {
    gate = await startLocalGate({
      dataDir,
      policyPath: new URL('../policies/example.yaml', import.meta.url).pathname,
      delivery: path === 'versioned' ? 'manual' : 'auto',
      concurrency: 4,
      // As the stack's event source: batches of DEFAULT_VERIFIER_BATCH_SIZE, waiting up to 1 s to fill.
      batchingWindowMs: 1000,
      maxReceiveCount: 3,
      endpointFor: async (service, endpoint) => {
        if (service === 'dynamodb') capacity = dynamoCapacityMeter(endpoint);
        const proxy = await startFlakyProxy(endpoint, service, 0, 1, {
          ...(service === 'dynamodb' && capacity ? { meter: capacity.meter } : {}),
        });
        proxies.set(service, proxy);
        return proxy.url;
      },
      ...(memory ? { wrapDeps: (deps) => ({ ...deps, s3: memory }) } : {}),
    });
    const run = async (count: number): Promise<number> => {
      const keys = Array.from(
        { length: count },
        (_, i) => `releases/req-${randomBytes(4).toString('hex')}/${i}/app.tar.gz`,
      );
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < keys.length; i = next++) {
          const key = keys[i] as string;
          const bytes = randomBytes(sizeKib * 1024);
          const attestation = await (gate as LocalGate).provenance('app.tar.gz', bytes);
          await upload(gate as LocalGate, memory, `${key}.sigstore.json`, attestation);
          await upload(gate as LocalGate, memory, key, bytes);
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
      const rate = (count * 1000) / (performance.now() - started);
      for (const key of keys) await promoted(gate as LocalGate, key);
      return rate;
    };
    await run(1);
    for (const proxy of proxies.values()) proxy.reset();
    capacity?.reset();
    if (memory) memory.requests.length = 0;
    const arrivalRate = await run(artifacts);

    const s3Counts = memory
      ? memory.requests.reduce((counts, request) => {
          const op = MEMORY_OPERATIONS[request.op] ?? request.op;
          return counts.set(op, (counts.get(op) ?? 0) + 1);
        }, new Map<string, number>())
      : (proxies.get('s3')?.stats.operations ?? new Map());
    const s3 = perArtifact(s3Counts, artifacts);
    const dynamodb = perArtifact(proxies.get('dynamodb')?.stats.operations ?? new Map(), artifacts);
    const kms = perArtifact(proxies.get('kms')?.stats.operations ?? new Map(), artifacts);
    return {
      path,
      artifacts,
      s3,
      dynamodb,
      kms,
      s3Writes: sum(s3, (op) => S3_WRITES.has(op)),
      s3Reads: sum(s3, (op) => S3_READS.has(op)),
      dynamoRequests: sum(dynamodb, () => true),
      writeUnits: (capacity?.capacity.writeUnits ?? 0) / artifacts,
      indexWriteUnits: (capacity?.capacity.indexWriteUnits ?? 0) / artifacts,
      readUnits: (capacity?.capacity.readUnits ?? 0) / artifacts,
      signs: (kms.Sign ?? 0) as number,
      writeUnitsBy: perArtifact(capacity?.capacity.writeUnitsBy ?? new Map(), artifacts),
      arrivalRate,
    };
  } finally {
    await gate?.close();
    for (const proxy of proxies.values()) await proxy.close();
    capacity?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Uploads as a pipeline does: to s3rver (whose events reach the queue), or to the in-memory store. */
async function upload(gate: LocalGate, memory: MemoryS3 | undefined, key: string, body: Buffer | string) {
  if (!memory) {
    await gate.store.put(gate.stack.names.stagingBucket, key, body, {}, 'application/octet-stream');
    return;
  }
  const { notification } = memory.upload(gate.stack.names.stagingBucket, key, body);
  gate.queue.send(notification);
}

async function promoted(gate: LocalGate, key: string): Promise<void> {
  for (let tries = 0; tries < 3000; tries++) {
    const [record] = await gate.records.byKey(key);
    if (record?.status === 'promoted') return;
    if (record && record.status !== 'pending' && record.status !== 'verified')
      throw new Error(`bench requests: ${key} ${record.status}: ${JSON.stringify(record.reasons)}`);
    await gate.queue.drain();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`bench requests: ${key} not promoted`);
}

/** One line per service, for the bench's notes and docs/scale.md. */
export function describeProfile(profile: RequestProfile): string {
  const list = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([op, n]) => `${op} ${n.toFixed(2)}`)
      .join(', ') || 'none';
  return [
    `${profile.path}, ${profile.artifacts} artifacts uploaded at ${profile.arrivalRate.toFixed(0)}/s: S3 ${list(profile.s3)}`,
    `DynamoDB ${list(profile.dynamodb)}; ${profile.writeUnits.toFixed(2)} WCU (${profile.indexWriteUnits.toFixed(2)} on indexes: ${list(profile.writeUnitsBy)}), ${profile.readUnits.toFixed(2)} RCU`,
    `KMS ${list(profile.kms)}`,
  ].join('\n    ');
}

/**
 * #15's request targets, per promoted artifact on the happy path, counted on the wire (versioned: the path
 * AWS takes; unversioned: s3rver, streamed again): KMS `Sign` ≤ 0.1, DynamoDB write units ≤ 5, S3 write
 * requests ≤ 2. Absolute targets: a count has no baseline on this machine; before #15 they were 1 Sign,
 * ~15 WCU and 3 S3 writes per artifact (docs/scale.md).
 */
export async function requestFigures(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const path of ['versioned', 'unversioned'] as const) {
    const profile = await requestProfile(path);
    figures.push(
      {
        name: `KMS Sign per promoted artifact (${path})`,
        value: profile.signs,
        unit: 'requests',
        target: { atMost: 0.1, of: 'value' },
        note: `one Sign per verifier invocation (batch): ${(1 / Math.max(profile.signs, 1e-9)).toFixed(0)} artifacts each at ${profile.arrivalRate.toFixed(0)} artifacts/s uploaded; fewer at a trickle, up to ~50 when batches fill`,
      },
      {
        name: `DynamoDB write units per artifact (${path})`,
        value: profile.writeUnits,
        unit: 'WCU',
        target: { atMost: 5, of: 'value' },
      },
      {
        name: `S3 write requests per artifact (${path})`,
        value: profile.s3Writes,
        unit: 'requests',
        target: { atMost: 2, of: 'value' },
        note: describeProfile(profile),
      },
    );
  }
  return figures;
}
