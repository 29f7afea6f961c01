import { appendFileSync, writeFileSync } from 'node:fs';
import type { ArtifactStatus, DeadLetterEntry, Reason } from '#core/index.ts';
import type { RecordRepository } from '../lambdas/verify/context.ts';
import { withRecordHooks } from '../lambdas/verify/record-hooks.ts';
import type { DeadLetter } from './queue.ts';

export interface ConsoleOptions {
  /** Where lines go; undefined keeps the console quiet (the demo prints its own summary). */
  readonly print?: (line: string) => void;
  /** The dead-letter file, truncated now: the local queue is in memory, so its dead letters are per run. */
  readonly deadLetterFile: string;
  readonly now?: () => Date;
}

/**
 * What `npm start` shows while it runs: one line per decision (status, key, first reason) and per
 * message the verifier gave up on, with its error; dead letters also go to a JSON Lines file.
 */
export function createConsole(options: ConsoleOptions) {
  const now = options.now ?? (() => new Date());
  const print = options.print;
  const time = () => now().toISOString().slice(11, 19);
  /** The last error the verifier logged for each message, so a dead letter says why it died. */
  const errors = new Map<string, string>();
  let written = 0;
  writeFileSync(options.deadLetterFile, '');

  const announce = (status: ArtifactStatus, key: string, why?: string) => {
    // `verified` is the moment before `promoted`: its line would only repeat the next one.
    if (!print || status === 'verified') return;
    print(`${time()}  ${status.toUpperCase().padEnd(11)} ${key}${why ? `  ${why}` : ''}`);
  };
  const first = (reasons?: readonly Reason[]) => {
    const reason = reasons?.[0];
    return reason
      ? `${reason.code}: ${reason.subject ? `${reason.subject}: ` : ''}${reason.message}`
      : undefined;
  };

  return {
    /** The record store, announcing each decision the verifier records. */
    announcing(records: RecordRepository): RecordRepository {
      return withRecordHooks(records, {
        created: (record) => announce(record.status, record.objectKey, first(record.reasons)),
        moved: ({ objectKey, to, patch, note }) => announce(to, objectKey, first(patch.reasons) ?? note),
      });
    },

    /** The verifier logged that a message failed and will be retried. */
    failed(messageId: string, error: unknown) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      errors.set(messageId, text);
      print?.(`${time()}  RETRY       message ${messageId}: ${text}`);
    },

    /** Appends (and announces) the dead letters the queue has added since the last call. */
    flushDeadLetters(deadLetters: readonly DeadLetter[]) {
      for (const letter of deadLetters.slice(written)) {
        const entry: DeadLetterEntry = {
          at: now().toISOString(),
          messageId: letter.messageId,
          attempts: letter.attempts,
          error: errors.get(letter.messageId) ?? letter.lastError,
          objects: objectsIn(letter.body),
        };
        appendFileSync(options.deadLetterFile, `${JSON.stringify(entry)}\n`);
        print?.(
          `${time()}  DEAD LETTER message ${entry.messageId} (${entry.objects.join(', ') || 'no object'}) after ${entry.attempts} attempts: ${entry.error}`,
        );
      }
      written = deadLetters.length;
    },
  };
}

export type LocalConsole = ReturnType<typeof createConsole>;

/** The objects an S3 notification names, as `s3://bucket/key`; none when it is not one. */
function objectsIn(body: string): string[] {
  try {
    const records = (
      JSON.parse(body) as { Records?: { s3?: { bucket?: { name?: string }; object?: { key?: string } } }[] }
    ).Records;
    return (records ?? []).flatMap((record) => {
      const bucket = record.s3?.bucket?.name;
      const key = record.s3?.object?.key;
      return bucket && key ? [`s3://${bucket}/${decodeURIComponent(key.replace(/\+/g, ' '))}`] : [];
    });
  } catch {
    return [];
  }
}
