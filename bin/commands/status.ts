import { documentClient } from '#adapters/clients.ts';
import { requireEnv } from '#adapters/config.ts';
import { RecordStore } from '#adapters/records.ts';
import type { ArtifactRecord } from '#core/lifecycle.ts';
import { EXIT, type Io, parse, UsageError } from '../cli.ts';

const USAGE = `usage: vouch status OBJECT_KEY|sha256:<hex> [--json]

Shows the recorded decisions for an object key (every version) or a digest, with reasons and history.
Reads $VOUCH_RECORDS_TABLE in the account (or local stack) the environment points at.`;

export async function statusCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    USAGE,
  );
  if (values.help) {
    io.out(USAGE);
    return EXIT.accepted;
  }
  const [target, ...extra] = positionals;
  if (target === undefined || extra.length > 0)
    throw new UsageError(`expected one OBJECT_KEY or digest\n\n${USAGE}`);
  let table: string;
  try {
    table = requireEnv('VOUCH_RECORDS_TABLE', io.env);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const store = new RecordStore(documentClient(), table);
  const records = /^sha(256|512):[0-9a-f]+$/i.test(target)
    ? await store.byDigest(target.toLowerCase())
    : await store.byKey(target);
  if (values.json) io.out(JSON.stringify(records, null, 2));
  else if (records.length === 0) io.out(`no decision recorded for ${target}`);
  else for (const record of records) io.out(describe(record));
  return records.length === 0 ? EXIT.rejected : EXIT.accepted;
}

function describe(record: ArtifactRecord): string {
  const lines = [
    `${record.status.toUpperCase()}${record.flagged ? ' (audit mode: failed verification)' : ''}  ${record.objectKey}  ${record.digest}  version ${record.version}`,
    `  uploaded ${record.uploadedAt}, policy ${record.policyDigest ?? '-'}${record.rules?.length ? `, rules ${record.rules.join(', ')}` : ''}`,
  ];
  if (record.keyIds?.length) lines.push(`  signed by ${record.keyIds.join(', ')}`);
  if (record.identities?.length) lines.push(`  signed by ${record.identities.join(', ')}`);
  if (record.deadline && record.status === 'pending')
    lines.push(`  waiting for attestations until ${record.deadline}`);
  for (const reason of record.reasons) lines.push(`  ${reason.code}: ${reason.message}`);
  lines.push(`  history: ${record.history.map((h) => `${h.status}@${h.at}`).join(' → ')}`);
  return lines.join('\n');
}
