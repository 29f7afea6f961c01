import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  attestationCopy,
  attestationCopyProblems,
  readSummaryFile,
  type Statement,
  type SummaryEntry,
  summaryFile,
  VOUCH_VERIFIER_ID,
  VSA_PREDICATE_TYPE,
  verificationSummary,
  verificationSummaryProblems,
} from '#core/index.ts';

const digests = { sha256: 'a'.repeat(64) };
const issuedAt = new Date('2026-11-26T00:00:00.000Z');
const validUntil = new Date('2026-12-26T00:00:00.000Z');
const during = new Date('2026-12-01T00:00:00.000Z');
const attestation = Buffer.from('{"provenance":true}');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const entry = (overrides: Partial<SummaryEntry> = {}): SummaryEntry => ({
  name: 'releases/app.tar.gz',
  digests,
  resourceUri: 's3://vouch-staging/releases/app.tar.gz',
  verificationResult: 'PASSED',
  policyDigest: `sha256:${'p'.repeat(64)}`,
  rules: ['releases'],
  timeVerified: issuedAt.toISOString(),
  inputAttestations: [
    { uri: 's3://vouch-staging/releases/app.tar.gz.sigstore.json', digest: { sha256: sha256(attestation) } },
  ],
  mode: 'enforce',
  accepted: true,
  keyIds: ['arn:aws:kms:us-east-1:000000000000:key/signing'],
  identities: [],
  ...overrides,
});

const summary = (entries: readonly SummaryEntry[] = [entry()]) =>
  verificationSummary(entries, { issuedAt, validUntil, resourceUri: 's3://vouch-staging' });

const codes = (statement: Statement, options: { allowAudit?: boolean; now?: Date; key?: string } = {}) =>
  verificationSummaryProblems(statement, {
    key: options.key ?? 'releases/app.tar.gz',
    digests,
    allowAudit: options.allowAudit ?? false,
    now: options.now ?? during,
  }).map((r) => r.code);

/** The statement with its predicate (or one field of `vouch`) changed, as a forger would change it. */
function altered(statement: Statement, change: (predicate: Record<string, any>) => void): Statement {
  const copy = structuredClone(statement) as Statement & { predicate: Record<string, any> };
  change(copy.predicate);
  return copy;
}

describe('#verificationSummary', () => {
  it('names every artifact of the batch as a subject, with its own entry, under one result and policy', () => {
    const statement = summary([
      entry(),
      entry({ name: 'releases/tool.tar.gz', digests: { sha256: 'b'.repeat(64) } }),
    ]);
    expect(statement.predicateType).toBe(VSA_PREDICATE_TYPE);
    expect(statement.subject).toEqual([
      { name: 'releases/app.tar.gz', digest: digests },
      { name: 'releases/tool.tar.gz', digest: { sha256: 'b'.repeat(64) } },
    ]);
    expect(statement.predicate).toMatchObject({
      verifier: { id: VOUCH_VERIFIER_ID },
      timeVerified: issuedAt.toISOString(),
      resourceUri: 's3://vouch-staging',
      verificationResult: 'PASSED',
      policy: { digest: { sha256: 'p'.repeat(64) } },
      vouch: { validUntil: validUntil.toISOString() },
    });
    // The same input listed by two artifacts appears once among the statement's inputs.
    expect(statement.predicate?.inputAttestations).toHaveLength(1);
  });

  it.each([
    ['another result', entry({ name: 'audit/x', verificationResult: 'FAILED' })],
    ['another policy', entry({ name: 'other/x', policyDigest: `sha256:${'q'.repeat(64)}` })],
    ['the same name twice', entry()],
  ])('refuses to sign artifacts of %s into one statement', (_what, second) => {
    expect(() => summary([entry(), second])).toThrow();
  });
});

describe('#verificationSummaryProblems', () => {
  it('accepts a PASSED summary for this key and these bytes, inside its validity period', () => {
    expect(codes(summary())).toEqual([]);
  });

  it('accepts each artifact of a batch under its own key', () => {
    const statement = summary([
      entry({ name: 'releases/tool.tar.gz', resourceUri: 's3://vouch-staging/releases/tool.tar.gz' }),
      entry(),
    ]);
    expect(codes(statement)).toEqual([]);
    expect(codes(statement, { key: 'releases/tool.tar.gz' })).toEqual([]);
  });

  describe('when the summary says FAILED (an audit-mode promotion)', () => {
    const failed = summary([entry({ verificationResult: 'FAILED' })]);
    it('refuses it with VERIFICATION_FAILED', () => {
      expect(codes(failed)).toEqual(['VERIFICATION_FAILED']);
    });
    it('accepts it only when audit-mode artifacts are allowed', () => {
      expect(codes(failed, { allowAudit: true })).toEqual([]);
    });
  });

  it.each([
    ['issued for another key', [entry({ name: 'scratch/app.tar.gz' })]],
    ['issued for the same file name under another prefix', [entry({ name: 'app.tar.gz' })]],
    ['about other bytes', [entry({ digests: { sha256: 'b'.repeat(64) } })]],
    ['about another resource', [entry({ resourceUri: 's3://vouch-staging/scratch/app.tar.gz' })]],
    ['about a resource outside S3', [entry({ resourceUri: 'https://example.com/releases/app.tar.gz' })]],
    [
      'about a key that only ends like this one',
      [entry({ resourceUri: 's3://vouch-staging/xreleases/app.tar.gz' })],
    ],
  ])('refuses a summary %s with SUBJECT_MISMATCH', (_what, entries) => {
    expect(codes(summary(entries))).toEqual(['SUBJECT_MISMATCH']);
  });

  it('refuses any result other than PASSED or FAILED', () => {
    const statement = altered(summary(), (predicate) => {
      predicate.verificationResult = 'passed';
    });
    expect(codes(statement, { allowAudit: true })).toEqual(['VERIFICATION_FAILED']);
  });

  describe('when its validity period is over', () => {
    it('refuses it with VSA_EXPIRED, saying when it expired', () => {
      const after = new Date(validUntil.getTime() + 1000);
      const problems = verificationSummaryProblems(summary(), {
        key: 'releases/app.tar.gz',
        digests,
        now: after,
      });
      expect(problems.map((p) => p.code)).toEqual(['VSA_EXPIRED']);
      expect(problems[0]?.message).toContain(validUntil.toISOString());
    });
    it('still accepts it at the last instant of the period', () => {
      expect(codes(summary(), { now: validUntil })).toEqual([]);
    });
  });

  it.each([
    ['no validity period', undefined],
    ['a validity period that is not a time', 'next year'],
  ])('refuses a summary with %s (one from before summaries expired) with VSA_EXPIRED', (_what, value) => {
    const statement = altered(summary(), (predicate) => {
      predicate.vouch.validUntil = value;
    });
    expect(codes(statement)).toEqual(['VSA_EXPIRED']);
  });
});

describe('#summaryFile', () => {
  const envelope = {
    payloadType: 'application/vnd.in-toto+json',
    payload: 'e30=',
    signatures: [{ keyid: 'k', sig: 'cw==' }],
  };
  const uri = 's3://vouch-staging/releases/app.tar.gz.sigstore.json';

  it('is the envelope a DSSE reader takes, with the attestation copies beside it', () => {
    const file = summaryFile(envelope, 'releases/app.tar.gz', [attestationCopy(uri, attestation)]);
    const read = readSummaryFile(Buffer.from(JSON.stringify(file)), 'vsa');
    expect(JSON.parse(read.envelope)).toEqual(envelope);
    expect(read.attestations).toEqual([
      { uri, digest: { sha256: sha256(attestation) }, content: attestation.toString('base64') },
    ]);
  });

  it('accepts copies of exactly the attestations the entry lists', () => {
    const file = summaryFile(envelope, 'releases/app.tar.gz', [attestationCopy(uri, attestation)]);
    expect(attestationCopyProblems(summary(), 'releases/app.tar.gz', file.vouch.attestations)).toEqual([]);
  });

  it('refuses a copy whose bytes the entry does not list, or whose stated digest is not its own', () => {
    const other = summaryFile(envelope, 'releases/app.tar.gz', [
      attestationCopy(uri, Buffer.from('{"forged":1}')),
    ]);
    expect(
      attestationCopyProblems(summary(), 'releases/app.tar.gz', other.vouch.attestations).map((p) => p.code),
    ).toEqual(['SUBJECT_MISMATCH']);
    const relabelled = [{ ...other.vouch.attestations[0], digest: { sha256: sha256(attestation) } }] as never;
    expect(attestationCopyProblems(summary(), 'releases/app.tar.gz', relabelled)).toHaveLength(1);
  });

  it('refuses a file that is not a summary file', () => {
    expect(() => readSummaryFile(Buffer.from('[1]'), 'vsa')).toThrow(/not a JSON object/);
    expect(() =>
      readSummaryFile(
        Buffer.from(JSON.stringify({ ...envelope, vouch: { attestations: [{ uri: 1 }] } })),
        'vsa',
      ),
    ).toThrow(/not an attestation copy/);
  });
});
