// npm run load: 1,000 artifacts with attestations uploaded at concurrency 16 to the local gate.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SignFn } from '#core/index.ts';
import type { ArtifactStatus } from '#core/lifecycle.ts';
import { startLocalGate } from '../local/gate.ts';

const { values } = parseArgs({
  options: {
    artifacts: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    'verifier-concurrency': { type: 'string', default: '4' },
    'size-kib': { type: 'string', default: '16' },
  },
});
const total = Number(values.artifacts);
const uploadConcurrency = Number(values.concurrency);
const sizeKib = Number(values['size-kib']);

/**
 * What each upload is: most are genuine, the rest are attacks that must never reach the deployment
 * bucket. Expected outcomes are known in advance, so a promotion of anything but `genuine` is a false
 * accept.
 */
type Kind = 'genuine' | 'tampered' | 'unknown-key' | 'unsigned';
const KINDS: Kind[] = [
  'genuine',
  'genuine',
  'genuine',
  'genuine',
  'genuine',
  'genuine',
  'genuine',
  'tampered',
  'unknown-key',
  'unsigned',
];
const EXPECTED: Record<Kind, ArtifactStatus> = {
  genuine: 'promoted',
  tampered: 'rejected',
  // Signed by a key nobody trusts: junk that never vetoes (README, "Who may decide"), so the artifact
  // waits for a genuine attestation until its deadline, as an unsigned one does.
  'unknown-key': 'pending',
  // No attestation at all: pending until its deadline, then rejected by the sweep (checked below).
  unsigned: 'pending',
};

const dataDir = mkdtempSync(join(tmpdir(), 'vouch-load-'));
/** The pipeline's clock, moved an hour ahead at the end to let the deadline of unsigned uploads pass. */
let clockOffsetMs = 0;
const gate = await startLocalGate({
  wrapDeps: (deps) => ({ ...deps, now: () => new Date(Date.now() + clockOffsetMs) }),
  dataDir,
  policyPath: new URL('../policies/example.yaml', import.meta.url).pathname,
  concurrency: Number(values['verifier-concurrency']),
  maxReceiveCount: 5,
  retryDelayMs: 50,
});
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const stranger: SignFn = async (message) => ({
  signature: sign('sha256', message, privateKey),
  keyId: 'arn:aws:kms:us-east-1:000000000000:key/not-in-the-registry',
});

try {
  const run = new Date().toISOString().replace(/[:.]/g, '-');
  const jobs = Array.from({ length: total }, (_, i) => ({
    key: `releases/load-${run}/${String(i).padStart(4, '0')}.bin`,
    kind: KINDS[i % KINDS.length] as Kind,
  }));
  console.log(
    `vouch load — ${total} artifacts of ${sizeKib} KiB with attestations, ${uploadConcurrency} uploads at once, ` +
      `verifier concurrency ${values['verifier-concurrency']}; node ${process.version}, ${cpus().length} CPUs`,
  );
  const staging = gate.stack.names.stagingBucket;
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++] as (typeof jobs)[number];
      const bytes = randomBytes(sizeKib * 1024);
      if (job.kind !== 'unsigned') {
        const attestation = await gate.provenance(
          job.key,
          bytes,
          job.kind === 'unknown-key' ? stranger : undefined,
        );
        await gate.store.put(staging, `${job.key}.sigstore.json`, attestation);
      }
      if (job.kind === 'tampered') bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      await gate.store.put(staging, job.key, bytes, {}, 'application/octet-stream');
    }
  };
  await Promise.all(Array.from({ length: uploadConcurrency }, worker));
  const uploaded = performance.now();
  await gate.settle(200);
  const finished = performance.now();

  const counts: Record<string, number> = {};
  const falseAccepts: string[] = [];
  const unexpected: string[] = [];
  for (const job of jobs) {
    const records = await gate.records.byKey(job.key);
    const status = records[0]?.status ?? 'missing';
    counts[status] = (counts[status] ?? 0) + 1;
    if (records.length !== 1) unexpected.push(`${job.key}: ${records.length} records`);
    if (job.kind !== 'genuine' && (status === 'promoted' || status === 'verified'))
      falseAccepts.push(job.key);
    if (status !== EXPECTED[job.kind]) unexpected.push(`${job.key} (${job.kind}): ${status}`);
  }
  const seconds = (finished - started) / 1000;
  console.log(
    `uploads done in ${((uploaded - started) / 1000).toFixed(1)} s; all decided in ${seconds.toFixed(1)} s ` +
      `→ ${(total / seconds).toFixed(1)} artifacts/s (${((total * 2) / seconds).toFixed(1)} objects/s)`,
  );
  console.log(
    `promoted ${counts.promoted ?? 0}, rejected ${counts.rejected ?? 0}, pending ${counts.pending ?? 0} ` +
      `(unsigned or unknown-key, waiting for their deadline), other ${total - (counts.promoted ?? 0) - (counts.rejected ?? 0) - (counts.pending ?? 0)}; ` +
      `dead letters ${gate.queue.deadLetters.length}; retried ${gate.queue.stats.retried}`,
  );
  console.log(`false accepts: ${falseAccepts.length}`);

  // The unsigned ones reach their terminal state when their deadline passes: the scheduled sweep.
  const waiting = counts.pending ?? 0;
  clockOffsetMs = 3600_000 + 60_000;
  await gate.sweep();
  clockOffsetMs = 0;
  const final = await Promise.all(jobs.map(async (job) => (await gate.records.byKey(job.key))[0]?.status));
  jobs.forEach((job, i) => {
    if (EXPECTED[job.kind] === 'pending' && final[i] !== 'rejected')
      unexpected.push(`${job.key} (${job.kind}, after the deadline): ${final[i]}`);
  });
  const tally = (status: string) => final.filter((s) => s === status).length;
  console.log(
    `after the deadline sweep (${waiting} waiting): promoted ${tally('promoted')}, rejected ${tally('rejected')}, ` +
      `pending ${tally('pending')} — every upload terminal: ${tally('promoted') + tally('rejected') === total}`,
  );

  const ok = falseAccepts.length === 0 && unexpected.length === 0 && gate.queue.deadLetters.length === 0;
  if (!ok) for (const line of unexpected.slice(0, 20)) console.log(`  unexpected: ${line}`);
  console.log(ok ? 'load: every upload reached its expected state; no false accepts' : 'load: FAILED');
  process.exitCode = ok ? 0 : 1;
} finally {
  await gate.close();
  rmSync(dataDir, { recursive: true, force: true });
}
