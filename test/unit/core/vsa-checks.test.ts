import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Decision } from '#core/evaluate.ts';
import {
  attestationCopy,
  attestationCopyProblems,
  readSummaryFile,
  type Statement,
  type SummaryEntry,
  summaryEntry,
  VOUCH_VERIFIER_ID,
  verificationSummary,
  verificationSummaryProblems,
} from '#core/index.ts';

// What a summary says field by field, and what the deployer tells a person when it refuses one: the
// messages are the only explanation `vouch fetch` prints, so they are checked word for word.

const KEY = 'releases/app.tar.gz';
const digests = { sha256: 'a'.repeat(64) };
const issuedAt = new Date('2026-11-26T00:00:00.000Z');
const validUntil = new Date('2026-12-26T00:00:00.000Z');
const during = new Date('2026-12-01T00:00:00.000Z');
const attestation = Buffer.from('{"provenance":true}');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const input = (name: string, bytes = attestation) => ({
  uri: `s3://vouch-staging/${name}`,
  digest: { sha256: sha256(bytes) },
});

const decision = (overrides: Partial<Decision> = {}): Decision => ({
  accepted: true,
  verdict: 'pass',
  mode: 'enforce',
  artifact: { path: KEY, digest: `sha256:${digests.sha256}`, digests },
  rules: ['releases'],
  reasons: [],
  curable: false,
  notes: [],
  attestations: [],
  keyIds: ['arn:aws:kms:us-east-1:000000000000:key/signing'],
  identities: ['https://token.actions.githubusercontent.com|repo:acme/app:ref:refs/heads/main'],
  policyDigest: `sha256:${'p'.repeat(64)}`,
  evaluatedAt: issuedAt.toISOString(),
  ...overrides,
});

const entry = (overrides: Partial<SummaryEntry> = {}): SummaryEntry => ({
  ...summaryEntry({
    decision: decision(),
    resourceUri: `s3://vouch-staging/${KEY}`,
    subjectName: KEY,
    inputAttestations: [input(`${KEY}.sigstore.json`)],
  }),
  ...overrides,
});

const summary = (entries: readonly SummaryEntry[] = [entry()]) =>
  verificationSummary(entries, { issuedAt, validUntil, resourceUri: 's3://vouch-staging' });

const problems = (statement: Statement, options: { allowAudit?: boolean; now?: Date } = {}) =>
  verificationSummaryProblems(statement, {
    key: KEY,
    digests,
    allowAudit: options.allowAudit ?? false,
    now: options.now ?? during,
  });

/** The statement as a forger would rewrite it before signing it with a stolen key, or a buggy issuer. */
function altered(statement: Statement, change: (statement: Record<string, any>) => void): Statement {
  const copy = structuredClone(statement) as Statement & Record<string, any>;
  change(copy);
  return copy;
}

describe('#summaryEntry', () => {
  it("is the decision's verdict on the artifact, under the key it is promoted to, and nothing else", () => {
    const inputs = [input(`${KEY}.sigstore.json`)];
    expect(
      summaryEntry({
        decision: decision(),
        resourceUri: `s3://vouch-staging/${KEY}`,
        subjectName: `prod/${KEY}`,
        inputAttestations: inputs,
      }),
    ).toStrictEqual({
      name: `prod/${KEY}`,
      digests,
      resourceUri: `s3://vouch-staging/${KEY}`,
      verificationResult: 'PASSED',
      policyDigest: `sha256:${'p'.repeat(64)}`,
      rules: ['releases'],
      timeVerified: issuedAt.toISOString(),
      inputAttestations: inputs,
      mode: 'enforce',
      accepted: true,
      keyIds: ['arn:aws:kms:us-east-1:000000000000:key/signing'],
      identities: ['https://token.actions.githubusercontent.com|repo:acme/app:ref:refs/heads/main'],
    });
  });

  it('says FAILED for a failed verdict let through in audit mode, with the roots, audit reasons, exceptions and policy version', () => {
    const trustRoots = [{ instance: 'public-good', source: 'pinned' as const }];
    const auditReasons = [{ code: 'MISSING_ATTESTATION' as const, message: 'no provenance' }];
    const exceptions = [
      {
        rule: 'releases',
        reason: 'hotfix',
        approvedBy: 'ops',
        expiresAt: validUntil.toISOString(),
        waived: [],
      },
    ];
    const made = summaryEntry({
      decision: decision({
        verdict: 'fail',
        mode: 'audit',
        trustRoots,
        auditReasons,
        exceptions,
        policyVersion: 0,
      }),
      resourceUri: `s3://vouch-staging/${KEY}`,
      subjectName: KEY,
      inputAttestations: [],
    });
    expect(made).toMatchObject({
      verificationResult: 'FAILED',
      mode: 'audit',
      trustRoots,
      auditReasons,
      exceptions,
      policyVersion: 0,
    });
  });

  it('leaves the policy version out when the policy has none', () => {
    expect('policyVersion' in entry()).toBe(false);
  });
});

describe('#verificationSummary', () => {
  it('is a SLSA VSA of Vouch that claims no SLSA level, with the policy digest and the validity period', () => {
    const entries = [entry()];
    expect(summary(entries).predicate).toStrictEqual({
      verifier: { id: VOUCH_VERIFIER_ID },
      timeVerified: issuedAt.toISOString(),
      resourceUri: 's3://vouch-staging',
      policy: { uri: 'vouch:policy', digest: { sha256: 'p'.repeat(64) } },
      inputAttestations: [input(`${KEY}.sigstore.json`)],
      verificationResult: 'PASSED',
      verifiedLevels: [],
      slsaVersion: '1.0',
      vouch: { validUntil: validUntil.toISOString(), artifacts: entries },
    });
  });

  it("lists each artifact's own input attestations among the statement's inputs", () => {
    const tool = Buffer.from('{"tool":true}');
    const statement = summary([
      entry(),
      entry({
        name: 'releases/tool.tar.gz',
        inputAttestations: [input('releases/tool.tar.gz.sigstore.json', tool)],
      }),
    ]);
    expect(statement.predicate?.inputAttestations).toEqual([
      input(`${KEY}.sigstore.json`),
      input('releases/tool.tar.gz.sigstore.json', tool),
    ]);
  });

  it.each([
    ['no artifact', [], 'a verification summary needs at least one artifact'],
    [
      'artifacts of two results',
      [entry(), entry({ name: 'audit/x', verificationResult: 'FAILED' })],
      'one verification summary holds artifacts of one result and one policy',
    ],
    ['one key twice', [entry(), entry()], `${KEY} twice in one verification summary`],
  ])('refuses to sign %s, saying why', (_what, entries, message) => {
    expect(() => summary(entries)).toThrow(new Error(message));
  });
});

describe('#verificationSummaryProblems, as the deployer is told', () => {
  it('refuses a statement that is not a verification summary, and checks nothing else in it', () => {
    const statement = altered(summary(), (s) => {
      s.predicateType = 'https://slsa.dev/provenance/v1';
      s.subject = [];
    });
    expect(problems(statement)).toEqual([
      { code: 'UNSUPPORTED_FORMAT', message: 'not a verification summary: https://slsa.dev/provenance/v1' },
    ]);
  });

  it.each([
    [['scratch/app.tar.gz'], '"scratch/app.tar.gz"'],
    [['a', 'b', 'c', 'd', 'e'], '"a", "b", "c", "d", "e"'],
    [['a', 'b', 'c', 'd', 'e', 'f'], '"a", "b", "c", "d", "e" and 1 more'],
    [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], '"a", "b", "c", "d", "e" and 3 more'],
  ])('names the keys a summary for %j was issued for, five at most', (names, shown) => {
    const statement = summary(
      names.map((name) => entry({ name, resourceUri: `s3://vouch-staging/${name}` })),
    );
    expect(problems(statement)).toEqual([
      { code: 'SUBJECT_MISMATCH', message: `the summary was issued for ${shown}, not "${KEY}"` },
    ]);
  });

  it('shows a subject without a name as ""', () => {
    const statement = altered(summary(), (s) => {
      delete s.subject[0].name;
    });
    expect(problems(statement)).toEqual([
      { code: 'SUBJECT_MISMATCH', message: `the summary was issued for "", not "${KEY}"` },
    ]);
  });

  it('refuses a summary naming this key twice, even with these bytes, and one with two entries for it', () => {
    const statement = altered(summary(), (s) => {
      s.subject.push(s.subject[0]);
      s.predicate.vouch.artifacts.push(s.predicate.vouch.artifacts[0]);
    });
    expect(problems(statement)).toEqual([
      { code: 'SUBJECT_MISMATCH', message: `the summary names other bytes for ${KEY}` },
      { code: 'SUBJECT_MISMATCH', message: `the summary holds no single entry for "${KEY}"` },
    ]);
  });

  it('refuses a summary whose only subject for this key is other bytes', () => {
    expect(problems(summary([entry({ digests: { sha256: 'b'.repeat(64) } })]))).toEqual([
      { code: 'SUBJECT_MISMATCH', message: `the summary names other bytes for ${KEY}` },
    ]);
  });

  it('refuses a summary with two entries for this key under one subject', () => {
    const statement = altered(summary(), (s) => {
      s.predicate.vouch.artifacts.push(s.predicate.vouch.artifacts[0]);
    });
    expect(problems(statement)).toEqual([
      { code: 'SUBJECT_MISMATCH', message: `the summary holds no single entry for "${KEY}"` },
    ]);
  });

  it.each([
    ['another object', 's3://vouch-staging/scratch/app.tar.gz', '"s3://vouch-staging/scratch/app.tar.gz"'],
    ['no resource at all', undefined, '""'],
  ])('says which resource an entry verified instead: %s', (_what, resourceUri, shown) => {
    const statement = altered(summary(), (s) => {
      s.predicate.vouch.artifacts[0].resourceUri = resourceUri;
    });
    expect(problems(statement)).toEqual([
      {
        code: 'SUBJECT_MISMATCH',
        message: `the summary verified ${shown}, not an object at "${KEY}"`,
      },
    ]);
  });

  it('refuses a FAILED summary, saying it was an audit-mode promotion and how to accept it', () => {
    expect(problems(summary([entry({ verificationResult: 'FAILED' })]))).toEqual([
      {
        code: 'VERIFICATION_FAILED',
        message: 'the summary says FAILED: promoted in audit mode; refused without --allow-audit',
      },
    ]);
  });

  it.each([
    ['passed', '"passed"'],
    [undefined, 'undefined'],
  ])('refuses a result of %j even with --allow-audit, quoting it', (result, shown) => {
    const statement = altered(summary(), (s) => {
      s.predicate.verificationResult = result;
    });
    expect(problems(statement, { allowAudit: true })).toEqual([
      { code: 'VERIFICATION_FAILED', message: `the summary's result is ${shown}, not PASSED` },
    ]);
  });

  it('says when an expired summary expired, and what to do', () => {
    const now = new Date(validUntil.getTime() + 1);
    expect(problems(summary(), { now })).toEqual([
      {
        code: 'VSA_EXPIRED',
        message: `the summary expired at ${validUntil.toISOString()} (now ${now.toISOString()}): promote the artifact again for a new one`,
      },
    ]);
  });

  it('says a summary without a validity period comes from before summaries expired, and what to do', () => {
    const statement = altered(summary(), (s) => {
      delete s.predicate.vouch.validUntil;
    });
    expect(problems(statement)).toEqual([
      {
        code: 'VSA_EXPIRED',
        message:
          'the summary carries no validity period (vouch.validUntil): issued before summaries expired, or not by Vouch; promote the artifact again',
      },
    ]);
  });
});

describe('#readSummaryFile', () => {
  const envelope = { payloadType: 'application/vnd.in-toto+json', payload: 'e30=', signatures: [] };
  const good = attestationCopy(`s3://vouch-staging/${KEY}.sigstore.json`, attestation);
  const read = (vouch: unknown) =>
    readSummaryFile(Buffer.from(JSON.stringify({ ...envelope, vouch })), 'app.vsa.dsse.json');

  it.each([
    ['not an object', 1],
    ['null', null],
    ['a copy without a string uri', { ...good, uri: 1 }],
    ['a copy without its content', { ...good, content: undefined }],
    ['a copy whose digest is not an object', { ...good, digest: good.digest.sha256 }],
    ['a copy without a sha256 digest', { ...good, digest: { sha512: good.digest.sha256 } }],
  ])('refuses an attestation copy that is %s, naming where it is', (_what, copy) => {
    expect(() => read({ attestations: [good, copy] })).toThrow(
      'app.vsa.dsse.json: vouch.attestations[1] is not an attestation copy',
    );
  });

  it.each([
    ['no vouch part', undefined],
    ['a vouch part without copies', { artifact: KEY }],
    ['copies that are not a list', { attestations: 'none' }],
  ])('reads a file with %s as a bare envelope without copies', (_what, vouch) => {
    const file = read(vouch);
    expect(file.attestations).toEqual([]);
    expect(JSON.parse(file.envelope)).toEqual(envelope);
  });
});

describe('#attestationCopyProblems', () => {
  const copy = attestationCopy(`s3://vouch-staging/${KEY}.sigstore.json`, attestation);

  it('ignores malformed inputs an entry lists, and still finds the copy among the well-formed ones', () => {
    const statement = altered(summary(), (s) => {
      s.predicate.vouch.artifacts[0].inputAttestations = [
        null,
        'x',
        { digest: 'y' },
        { digest: { sha256: 5 } },
        input(`${KEY}.sigstore.json`),
      ];
    });
    expect(attestationCopyProblems(statement, KEY, [copy])).toEqual([]);
  });

  it('refuses copies when the entry lists no inputs, naming the copy and its digest', () => {
    const statement = altered(summary(), (s) => {
      delete s.predicate.vouch.artifacts[0].inputAttestations;
    });
    expect(attestationCopyProblems(statement, KEY, [copy])).toEqual([
      {
        code: 'SUBJECT_MISMATCH',
        message: `the copy of ${copy.uri} (sha256:${sha256(attestation)}) is not an attestation the summary lists for ${KEY}`,
      },
    ]);
  });

  it('refuses a copy of listed bytes that states another digest', () => {
    const relabelled = { ...copy, digest: { sha256: 'c'.repeat(64) } };
    expect(attestationCopyProblems(summary(), KEY, [relabelled]).map((p) => p.code)).toEqual([
      'SUBJECT_MISMATCH',
    ]);
  });
});
