import { describe, expect, it } from 'vitest';
import {
  STATEMENT_V1,
  type Statement,
  VSA_PREDICATE_TYPE,
  verificationSummaryProblems,
} from '#core/index.ts';

const digests = { sha256: 'a'.repeat(64) };
const summary = (
  overrides: { name?: string; result?: string; resourceUri?: string; sha256?: string } = {},
): Statement => ({
  _type: STATEMENT_V1,
  subject: [
    { name: overrides.name ?? 'releases/app.tar.gz', digest: { sha256: overrides.sha256 ?? digests.sha256 } },
  ],
  predicateType: VSA_PREDICATE_TYPE,
  predicate: {
    resourceUri: overrides.resourceUri ?? 's3://vouch-staging/releases/app.tar.gz',
    verificationResult: overrides.result ?? 'PASSED',
  },
});
const codes = (statement: Statement, allowAudit = false) =>
  verificationSummaryProblems(statement, { key: 'releases/app.tar.gz', digests, allowAudit }).map(
    (r) => r.code,
  );

describe('#verificationSummaryProblems', () => {
  it('accepts a PASSED summary for this key and these bytes', () => {
    expect(codes(summary())).toEqual([]);
  });

  describe('when the summary says FAILED (an audit-mode promotion)', () => {
    it('refuses it with VERIFICATION_FAILED', () => {
      expect(codes(summary({ result: 'FAILED' }))).toEqual(['VERIFICATION_FAILED']);
    });
    it('accepts it only when audit-mode artifacts are allowed', () => {
      expect(codes(summary({ result: 'FAILED' }), true)).toEqual([]);
    });
  });

  it.each([
    ['issued for another key', { name: 'scratch/app.tar.gz' }],
    ['issued for the same file name under another prefix', { name: 'app.tar.gz' }],
    ['about other bytes', { sha256: 'b'.repeat(64) }],
    ['about another resource', { resourceUri: 's3://vouch-staging/scratch/app.tar.gz' }],
  ])('refuses a summary %s with SUBJECT_MISMATCH', (_what, overrides) => {
    expect(codes(summary(overrides))).toEqual(['SUBJECT_MISMATCH']);
  });

  it('refuses any result other than PASSED or FAILED', () => {
    expect(codes(summary({ result: 'passed' }), true)).toEqual(['VERIFICATION_FAILED']);
  });
});
