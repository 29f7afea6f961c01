import { describe, expect, it } from 'vitest';
import { logWindowProblem } from '#core/bundle-checks.ts';

// The check that a log entry proven only by an inclusion proof was made while its log's key was trusted,
// over plain objects shaped as @sigstore/verify's entity and Vouch's trust root hand them over.
const LOG_ID = Buffer.from('log-one');
const OTHER_ID = Buffer.from('log-two');
const at = (iso: string) => new Date(iso);
const entity = (logId: Buffer, promised = false) =>
  ({
    tlogEntries: [{ logId: { keyId: logId }, ...(promised ? { inclusionPromise: {} } : {}) }],
  }) as never;
const log = (start: string, end: string) => ({
  logID: LOG_ID,
  baseURL: 'https://rekor.example',
  validFor: { start: at(start), end: at(end) },
});
const root = (...tlogs: ReturnType<typeof log>[]) => ({ tlogs }) as never;
const window2026 = log('2026-01-01T00:00:00Z', '2026-12-31T00:00:00Z');

describe('#logWindowProblem', () => {
  it('accepts times inside the window, at both of its ends', () => {
    const times = [at('2026-01-01T00:00:00Z'), at('2026-12-31T00:00:00Z')];
    expect(logWindowProblem(entity(LOG_ID), root(window2026), times)).toBeUndefined();
  });

  it('names the log, every verified time and the window when a time falls outside it', () => {
    const problem = logWindowProblem(entity(LOG_ID), root(window2026), [
      at('2026-06-01T00:00:00Z'),
      at('2027-01-01T00:00:00Z'),
    ]);
    expect(problem).toMatchObject({
      code: 'TLOG_INVALID',
      message:
        'the log https://rekor.example did not vouch for a signature made at 2026-06-01T00:00:00.000Z, 2027-01-01T00:00:00.000Z: its key is trusted from 2026-01-01T00:00:00.000Z to 2026-12-31T00:00:00.000Z',
    });
  });

  it('accepts an entry when any log of its ID (a key reused across shards) holds every time', () => {
    const times = [at('2027-06-01T00:00:00Z')];
    expect(
      logWindowProblem(
        entity(LOG_ID),
        root(window2026, log('2027-01-01T00:00:00Z', '2027-12-31T00:00:00Z')),
        times,
      ),
    ).toBeUndefined();
  });

  it('names the log by its ID when the trusted root has no such log', () => {
    expect(logWindowProblem(entity(OTHER_ID), root(window2026), [at('2026-06-01T00:00:00Z')])).toMatchObject({
      code: 'TLOG_INVALID',
      message: `the log ${OTHER_ID.toString('base64')} did not vouch for a signature made at 2026-06-01T00:00:00.000Z: the trusted root has no such log`,
    });
  });

  it('has nothing to check without a verified time, or for an entry the log promised', () => {
    expect(logWindowProblem(entity(OTHER_ID), root(window2026), [])).toBeUndefined();
    expect(
      logWindowProblem(entity(OTHER_ID, true), root(window2026), [at('2030-01-01T00:00:00Z')]),
    ).toBeUndefined();
  });
});
