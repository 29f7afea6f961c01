/**
 * The local stack's dead-letter file: one JSON line per message its verifier gave up on. `npm start`
 * writes it (local/console.ts), `vouch status --dead-letters` reads it; in AWS the same messages are in
 * the stack's dead-letter queue.
 */
export interface DeadLetterEntry {
  readonly at: string;
  readonly messageId: string;
  readonly attempts: number;
  readonly error: string;
  /** `s3://bucket/key` of each object the message was about. */
  readonly objects: readonly string[];
}

/** Where `npm start` writes it, below its data folder; VOUCH_DEAD_LETTERS_FILE names it for the CLI. */
export const DEAD_LETTERS_FILE = 'dead-letters.jsonl';
