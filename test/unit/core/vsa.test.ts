import { describe, expect, it } from 'vitest';
import {
  type Decision,
  STATEMENT_V1,
  type Statement,
  VOUCH_VERIFIER_ID,
  VSA_PREDICATE_TYPE,
  verificationSummary,
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
    ['about a resource outside S3', { resourceUri: 'https://example.com/releases/app.tar.gz' }],
    ['about a key that only ends like this one', { resourceUri: 's3://vouch-staging/xreleases/app.tar.gz' }],
  ])('refuses a summary %s with SUBJECT_MISMATCH', (_what, overrides) => {
    expect(codes(summary(overrides))).toEqual(['SUBJECT_MISMATCH']);
  });

  it('refuses any result other than PASSED or FAILED', () => {
    expect(codes(summary({ result: 'passed' }), true)).toEqual(['VERIFICATION_FAILED']);
  });
});

describe('#verificationSummaryProblems, beyond the result', () => {
  it('refuses a statement that is not a verification summary (UNSUPPORTED_FORMAT), whatever it says', () => {
    const provenance = { ...summary(), predicateType: 'https://slsa.dev/provenance/v1' };
    expect(codes(provenance, true)).toEqual(['UNSUPPORTED_FORMAT']);
  });

  it('says which key the summary was issued for when it names another', () => {
    const [problem] = verificationSummaryProblems(summary({ name: 'releases/other.tar.gz' }), {
      key: 'releases/app.tar.gz',
      digests,
    });
    expect(problem?.message).toMatch(/issued for "releases\/other\.tar\.gz", not "releases\/app\.tar\.gz"/);
  });

  it('accepts a summary naming the key twice when one of the two names these bytes', () => {
    const both = summary();
    const twice = {
      ...both,
      subject: [{ name: 'releases/app.tar.gz', digest: { sha256: 'b'.repeat(64) } }, ...both.subject],
    };
    expect(codes(twice)).toEqual([]);
  });

  it('says FAILED summaries need --allow-audit, and quotes any other result', () => {
    const message = (result: string) =>
      verificationSummaryProblems(summary({ result }), { key: 'releases/app.tar.gz', digests })[0]?.message;
    expect(message('FAILED')).toMatch(/says FAILED: promoted in audit mode; refused without --allow-audit/);
    expect(message('MAYBE')).toMatch(/result is "MAYBE", not PASSED/);
  });
});

describe('#verificationSummary', () => {
  const decision = (overrides: Partial<Decision> = {}): Decision => ({
    accepted: true,
    verdict: 'pass',
    mode: 'enforce',
    artifact: { path: 'releases/app.tar.gz', digest: `sha256:${digests.sha256}`, digests },
    rules: ['releases', 'all'],
    reasons: [],
    curable: false,
    notes: [],
    attestations: [],
    keyIds: ['arn:aws:kms:us-east-1:000000000000:key/k'],
    identities: [],
    policyDigest: `sha256:${'c'.repeat(64)}`,
    evaluatedAt: '2026-06-01T00:00:00.000Z',
    ...overrides,
  });
  const input = (d: Decision) => ({
    decision: d,
    resourceUri: 's3://vouch-staging/releases/app.tar.gz',
    subjectName: 'releases/app.tar.gz',
    inputAttestations: [
      { uri: 's3://vouch-staging/releases/app.tar.gz.sigstore.json', digest: { sha256: 'd'.repeat(64) } },
    ],
  });

  it('states what was verified: the subject, the source, the policy, the inputs, PASSED', () => {
    const statement = verificationSummary(input(decision()));
    expect(statement).toEqual({
      _type: STATEMENT_V1,
      subject: [{ name: 'releases/app.tar.gz', digest: digests }],
      predicateType: VSA_PREDICATE_TYPE,
      predicate: {
        verifier: { id: VOUCH_VERIFIER_ID },
        timeVerified: '2026-06-01T00:00:00.000Z',
        resourceUri: 's3://vouch-staging/releases/app.tar.gz',
        policy: { uri: 'vouch:policy/releases,all', digest: { sha256: 'c'.repeat(64) } },
        inputAttestations: input(decision()).inputAttestations,
        verificationResult: 'PASSED',
        verifiedLevels: [],
        slsaVersion: '1.0',
        vouch: {
          mode: 'enforce',
          accepted: true,
          keyIds: ['arn:aws:kms:us-east-1:000000000000:key/k'],
          identities: [],
        },
      },
    });
    // What it says, a deployer's check accepts; the subject's digests are a copy, not the decision's.
    expect(verificationSummaryProblems(statement, { key: 'releases/app.tar.gz', digests })).toEqual([]);
    expect(statement.subject[0]?.digest).not.toBe(digests);
  });

  it('says FAILED for an audit-mode artifact let through, with the audit reasons and trust roots', () => {
    const auditReasons = [{ code: 'BUILDER_NOT_ALLOWED', message: 'no' }] as const;
    const trustRoots = [{ instance: 'github' }];
    const statement = verificationSummary(
      input(
        decision({
          verdict: 'fail',
          mode: 'audit',
          auditReasons,
          trustRoots,
        } as unknown as Partial<Decision>),
      ),
    );
    const predicate = statement.predicate as Record<string, any>;
    expect(predicate.verificationResult).toBe('FAILED');
    expect(predicate.vouch).toMatchObject({ mode: 'audit', accepted: true, auditReasons, trustRoots });
    expect(codes(statement)).toEqual(['VERIFICATION_FAILED']);
    expect(codes(statement, true)).toEqual([]);
  });

  it('records the exceptions the decision used and the policy version, when there are any', () => {
    const exceptions = [{ rule: 'releases', waived: ['BUILDER_NOT_ALLOWED'] }];
    const statement = verificationSummary(
      input(decision({ exceptions, policyVersion: 7 } as unknown as Partial<Decision>)),
    );
    expect((statement.predicate as Record<string, any>).vouch).toMatchObject({
      exceptions,
      policyVersion: 7,
    });
    const plain = (verificationSummary(input(decision())).predicate as Record<string, any>).vouch;
    expect(Object.keys(plain)).not.toContain('exceptions');
    expect(Object.keys(plain)).not.toContain('policyVersion');
  });
});

describe('what a refused summary says', () => {
  const messages = (statement: Statement) =>
    verificationSummaryProblems(statement, { key: 'releases/app.tar.gz', digests }).map((r) => r.message);

  it('names what it is when it is not a summary', () => {
    expect(messages({ ...summary(), predicateType: 'https://slsa.dev/provenance/v1' })).toEqual([
      'not a verification summary: https://slsa.dev/provenance/v1',
    ]);
  });

  it('names the key whose bytes differ, and the resource it verified instead', () => {
    expect(messages(summary({ sha256: 'b'.repeat(64) }))).toEqual([
      'the summary names other bytes for releases/app.tar.gz',
    ]);
    expect(messages(summary({ resourceUri: 's3://vouch-staging/scratch/app.tar.gz' }))).toEqual([
      'the summary verified "s3://vouch-staging/scratch/app.tar.gz", not an object at "releases/app.tar.gz"',
    ]);
  });

  it('shows a subject without a name as ""', () => {
    const unnamed = { ...summary(), subject: [{ digest: digests }] } as Statement;
    expect(messages(unnamed)[0]).toBe('the summary was issued for "", not "releases/app.tar.gz"');
  });
});
