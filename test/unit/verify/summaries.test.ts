import { describe, expect, it } from 'vitest';
import type { SummaryEntry } from '#core/index.ts';
import { createSummarySigner, type SignedSummary } from '../../../lambdas/verify/summaries.ts';
import { testKey } from '../../helpers/keys.ts';

const entry = (name: string, overrides: Partial<SummaryEntry> = {}): SummaryEntry => ({
  name,
  digests: { sha256: 'a'.repeat(64) },
  resourceUri: `s3://staging/${name}`,
  verificationResult: 'PASSED',
  policyDigest: 'sha256:policy',
  rules: ['releases'],
  timeVerified: '2026-11-26T00:00:00.000Z',
  inputAttestations: [],
  mode: 'enforce',
  accepted: true,
  keyIds: [],
  identities: [],
  ...overrides,
});

/** A signer whose KMS calls are counted, and can be made to fail. */
function signer(options: { lingerMs?: number; maxSubjects?: number; fail?: boolean } = {}) {
  const key = testKey();
  const calls: Buffer[] = [];
  const summaries = createSummarySigner({
    sign: async (message) => {
      calls.push(message);
      if (options.fail) throw new Error('KMS throttled');
      return key.sign(message);
    },
    now: () => new Date('2026-11-26T00:00:00.000Z'),
    validitySeconds: 3600,
    resourceUri: 's3://staging',
    // An hour: a test that passes never waited for it.
    lingerMs: options.lingerMs ?? 3_600_000,
    ...(options.maxSubjects ? { maxSubjects: options.maxSubjects } : {}),
  });
  return { summaries, calls };
}

const names = (summary: SignedSummary) => summary.statement.subject.map((s) => s.name);

describe('#createSummarySigner', () => {
  describe('when every message of an invocation asks for a summary', () => {
    it('signs them all with one call, as soon as the last one asks', async () => {
      const { summaries, calls } = signer();
      const results = await summaries.invocation(() =>
        Promise.all(['a', 'b', 'c'].map((name) => summaries.track(() => summaries.sign(entry(name))))),
      );
      expect(calls).toHaveLength(1);
      for (const result of results) expect(names(result)).toEqual(['a', 'b', 'c']);
      expect(results[0]?.statement.predicate).toMatchObject({
        vouch: { validUntil: '2026-11-26T01:00:00.000Z' },
      });
    });
  });

  describe('when some messages of the invocation finish without promoting', () => {
    it('signs the waiting ones once the others are done, without waiting out the linger', async () => {
      const { summaries, calls } = signer();
      let finish = () => {};
      const [signed] = await summaries.invocation(() =>
        Promise.all([
          summaries.track(() => summaries.sign(entry('a'))),
          summaries.track(() => new Promise<void>((resolve) => (finish = resolve))),
          summaries.track(async () => finish()),
        ]),
      );
      expect(calls).toHaveLength(1);
      expect(names(signed as SignedSummary)).toEqual(['a']);
    });
  });

  describe('when another message is slow', () => {
    it('signs what is waiting after the linger, and the slow one later on its own', async () => {
      const { summaries, calls } = signer({ lingerMs: 5 });
      let unblock = () => {};
      const results = await summaries.invocation(() =>
        Promise.all([
          summaries.track(async () => {
            const signed = await summaries.sign(entry('fast'));
            unblock();
            return signed;
          }),
          summaries.track(async () => {
            await new Promise<void>((resolve) => (unblock = resolve));
            return summaries.sign(entry('slow'));
          }),
        ]),
      );
      expect(calls).toHaveLength(2);
      expect(results.map(names)).toEqual([['fast'], ['slow']]);
    });
  });

  it('signs a statement per result and policy, never one name twice, at most maxSubjects each', async () => {
    const { summaries, calls } = signer({ maxSubjects: 2 });
    const entries = [
      entry('a'),
      entry('b'),
      entry('c'),
      entry('a'),
      entry('audit/x', { verificationResult: 'FAILED' }),
      entry('d', { policyDigest: 'sha256:other' }),
    ];
    const results = await summaries.invocation(() =>
      Promise.all(entries.map((e) => summaries.track(() => summaries.sign(e)))),
    );
    expect(calls).toHaveLength(4);
    expect(results.map(names)).toEqual([['a', 'b'], ['a', 'b'], ['c', 'a'], ['c', 'a'], ['audit/x'], ['d']]);
  });

  it('fails every promotion that waited on a failed signature', async () => {
    const { summaries, calls } = signer({ fail: true });
    const results = await summaries.invocation(() =>
      Promise.allSettled(['a', 'b'].map((name) => summaries.track(() => summaries.sign(entry(name))))),
    );
    expect(calls).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('signs at once outside an invocation (a sweep, a re-check)', async () => {
    const { summaries, calls } = signer();
    expect(names(await summaries.sign(entry('a')))).toEqual(['a']);
    expect(names(await summaries.sign(entry('b')))).toEqual(['b']);
    expect(calls).toHaveLength(2);
  });

  it('keeps overlapping invocations apart', async () => {
    const { summaries, calls } = signer();
    const [first, second] = await Promise.all([
      summaries.invocation(() => summaries.track(() => summaries.sign(entry('a')))),
      summaries.invocation(() => summaries.track(() => summaries.sign(entry('b')))),
    ]);
    expect(calls).toHaveLength(2);
    expect([names(first), names(second)]).toEqual([['a'], ['b']]);
  });
});
