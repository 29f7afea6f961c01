import type { RecordStore } from '#adapters/records.ts';
import type { ArtifactRecord, ArtifactStatus } from '#core/lifecycle.ts';
import { EXIT, type ExitCode, formatDuration } from './cli.ts';

/** The verdict a record's status means for a pipeline: 0 go, 1 stop, 3 no verdict yet. */
export function exitForStatus(status: ArtifactStatus | undefined): ExitCode {
  switch (status) {
    case 'promoted':
    case 'verified':
      return EXIT.accepted;
    case 'rejected':
    case 'quarantined':
      return EXIT.rejected;
    default:
      return EXIT.unavailable;
  }
}

/** Final for a waiting pipeline: nothing but a later revocation changes these. */
const SETTLED = new Set<ArtifactStatus>(['promoted', 'rejected', 'quarantined']);

/** ETags are quoted in API responses and unquoted in events: compare them unquoted. */
const sameVersion = (a: string, b: string) => a.replace(/"/g, '') === b.replace(/"/g, '');

/** The record of one upload (by version ID or ETag), or else the key's newest upload, in S3's order. */
export function recordFor(records: readonly ArtifactRecord[], version?: string): ArtifactRecord | undefined {
  if (version !== undefined) return records.find((record) => sameVersion(record.version, version));
  return [...records].sort(
    (a, b) =>
      (b.sequencer ?? '').localeCompare(a.sequencer ?? '') ||
      b.uploadedAt.localeCompare(a.uploadedAt) ||
      b.updatedAt.localeCompare(a.updatedAt),
  )[0];
}

export interface WaitResult {
  readonly record?: ArtifactRecord;
  /** The deadline passed before the decision settled. */
  readonly timedOut: boolean;
}

/**
 * Polls an object key's records until the upload's decision is settled (promoted, rejected, quarantined)
 * or `timeoutMs` has passed. A verified record is waited on too: its promotion is usually a moment away,
 * and can still fail (superseded, a key revoked meanwhile).
 */
export async function waitForDecision(args: {
  readonly records: RecordStore;
  readonly key: string;
  readonly version?: string;
  readonly timeoutMs: number;
  readonly now?: () => number;
}): Promise<WaitResult> {
  const now = args.now ?? Date.now;
  const deadline = now() + args.timeoutMs;
  // A local stack decides within tens of milliseconds, AWS within a second or two (the queue's batching
  // window): the first looks come quickly, then back off to one read every 5 s.
  let delay = 50;
  for (;;) {
    const record = recordFor(await args.records.byKey(args.key), args.version);
    if (record && SETTLED.has(record.status)) return { record, timedOut: false };
    const left = deadline - now();
    if (left <= 0) return { ...(record ? { record } : {}), timedOut: true };
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 1.5, 5000);
  }
}

/** What a pipeline reads when its wait ends without a settled decision. */
export function describeTimeout(result: WaitResult, timeoutMs: number, followUp: string): string {
  const record = result.record;
  if (!record)
    return `no decision recorded after ${formatDuration(timeoutMs)} — is the verifier receiving staging events? check again: ${followUp}`;
  if (record.status === 'verified')
    return `verified, promotion not confirmed after ${formatDuration(timeoutMs)}; check again: ${followUp}`;
  const why = record.reasons[0];
  return `still ${record.status} after ${formatDuration(timeoutMs)}${why ? ` (${why.code}: ${why.message})` : ''}${record.deadline ? `; rejected at ${record.deadline} unless its attestations arrive` : ''} — check again: ${followUp}`;
}

export function describeRecord(record: ArtifactRecord): string {
  const lines = [
    `${record.status.toUpperCase()}${record.flagged ? ' (audit mode: failed verification)' : ''}  ${record.objectKey}  ${record.digest}  version ${record.version}`,
  ];
  // The root cause first: what the verdict rests on, before the provenance of the record.
  for (const reason of record.reasons)
    lines.push(`  ${reason.code}: ${reason.subject ? `${reason.subject}: ` : ''}${reason.message}`);
  if (record.deadline && record.status === 'pending')
    lines.push(`  waiting for attestations until ${record.deadline}`);
  lines.push(
    `  uploaded ${record.uploadedAt}, policy ${record.policyDigest ?? '-'}${record.rules?.length ? `, rules ${record.rules.join(', ')}` : ''}`,
  );
  if (record.keyIds?.length) lines.push(`  signed by ${record.keyIds.join(', ')}`);
  if (record.identities?.length) lines.push(`  signed by ${record.identities.join(', ')}`);
  for (const note of record.notes ?? [])
    lines.push(`  note: ${note.code}: ${note.subject ? `${note.subject}: ` : ''}${note.message}`);
  for (const reason of record.auditReasons ?? [])
    lines.push(`  audit rule: ${reason.code}: ${reason.message}`);
  lines.push(
    `  history: ${record.history.map((h) => `${h.status}@${h.at}${h.note ? ` (${h.note})` : ''}`).join(' → ')}`,
  );
  return lines.join('\n');
}
