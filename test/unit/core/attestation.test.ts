import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createStatement,
  DEFAULT_LIMITS,
  parseAttestationFile,
  signPayload,
  signStatement,
} from '#core/index.ts';
import { FIXTURE_PREDICATE, FIXTURES_AVAILABLE, readFixture } from '../../helpers/fixtures.ts';
import { testKey } from '../../helpers/keys.ts';
import { keylessBundle } from '../../helpers/sigstore/index.ts';

/** Tests that read ../shared/fixtures; without it they skip (see test/helpers/fixtures.ts). */
const itFixtures = it.skipIf(!FIXTURES_AVAILABLE);

const key = testKey();
const statement = createStatement(
  [{ name: 'a', digests: { sha256: 'a'.repeat(64) } }],
  'https://slsa.dev/provenance/v1',
  {},
);
const bundle = async () => signStatement(statement, key.sign);
const envelope = async () => (await bundle()).dsseEnvelope;
const codes = (file: ReturnType<typeof parseAttestationFile>) => file.errors.map((e) => e.code);
/** A keyless bundle of the test instance, pretty-printed as Sigstore clients write it. */
const prettyKeyless = () => JSON.stringify(keylessBundle({ content: { statement } }), null, 2);

describe('#parseAttestationFile', () => {
  itFixtures('reads a pretty-printed Sigstore bundle', () => {
    const parsed = parseAttestationFile(readFixture('bundleV02-intoto.sigstore'), 'b.sigstore');
    expect(parsed.errors).toEqual([]);
    expect(parsed.attestations).toHaveLength(1);
    expect(parsed.attestations[0]).toMatchObject({
      kind: 'statement',
      statement: { predicateType: FIXTURE_PREDICATE },
    });
  });

  it('reads a pretty-printed keyless bundle (test instance)', () => {
    const parsed = parseAttestationFile(prettyKeyless(), 'b.sigstore.json');
    expect(parsed.errors).toEqual([]);
    expect(parsed.attestations).toHaveLength(1);
    expect(parsed.attestations[0]).toMatchObject({
      kind: 'statement',
      statement: { predicateType: 'https://slsa.dev/provenance/v1' },
    });
    expect(parsed.attestations[0]?.signatures).toHaveLength(1);
  });

  it('reads a bare DSSE envelope, one verifiable bundle per signature', async () => {
    const env = await envelope();
    const two = { ...env, signatures: [env.signatures[0], { sig: env.signatures[0]?.sig, keyid: 'other' }] };
    const parsed = parseAttestationFile(JSON.stringify(two), 'e.dsse.json');
    expect(parsed.attestations[0]?.signatures).toHaveLength(2);
  });

  it('reads .intoto.jsonl line by line, naming each entry and keeping the good ones', async () => {
    const good = JSON.stringify(await envelope());
    const parsed = parseAttestationFile(`${good}\n{"not":"an envelope"}\n\n${good}\n`, 'p.intoto.jsonl');
    expect(parsed.attestations.map((a) => a.source)).toEqual(['p.intoto.jsonl#1', 'p.intoto.jsonl#3']);
    expect(parsed.errors).toEqual([
      expect.objectContaining({ code: 'UNSUPPORTED_FORMAT', subject: 'p.intoto.jsonl#2' }),
    ]);
  });

  it.each([
    ['an empty file', 'PARSE_ERROR', ''],
    ['malformed JSON', 'PARSE_ERROR', '{"payloadType": '],
    ['a JSON array', 'UNSUPPORTED_FORMAT', '[1,2]'],
    [
      'an unknown bundle media type',
      'UNSUPPORTED_FORMAT',
      '{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=9"}',
    ],
    [
      'a bundle missing its content',
      'PARSE_ERROR',
      '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
    ],
    [
      'invalid base64 payload',
      'PARSE_ERROR',
      '{"payloadType":"application/vnd.in-toto+json","payload":"!!!!","signatures":[{"sig":"AAAA"}]}',
    ],
    [
      'no signatures',
      'PARSE_ERROR',
      '{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}',
    ],
    [
      'another payload type',
      'UNSUPPORTED_FORMAT',
      '{"payloadType":"text/plain","payload":"e30=","signatures":[{"sig":"AAAA"}]}',
    ],
    [
      'a payload that is not a statement',
      'PARSE_ERROR',
      '{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AAAA"}]}',
    ],
    ['deeply nested JSON', 'LIMIT_EXCEEDED', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
  ])('rejects %s with %s', (_what, code, content) => {
    const parsed = parseAttestationFile(content, 'x');
    expect(parsed.attestations).toEqual([]);
    expect(codes(parsed)).toEqual([code]);
  });

  itFixtures(
    'reads a mangled pretty-printed bundle whose first line is valid JSON as one document (one reason)',
    () => {
      const text = readFixture('bundleV03-dsse.sigstore');
      expect(codes(parseAttestationFile(`0${text.slice(1)}`, 'x'))).toEqual(['PARSE_ERROR']);
    },
  );

  it('reads a mangled pretty-printed keyless bundle (test instance) as one document (one reason)', () => {
    const text = prettyKeyless();
    expect(codes(parseAttestationFile(`0${text.slice(1)}`, 'x'))).toEqual(['PARSE_ERROR']);
  });

  it('rejects a truncated keyless bundle (test instance) with PARSE_ERROR', () => {
    const text = prettyKeyless();
    expect(codes(parseAttestationFile(text.slice(0, text.length / 2), 'x'))).toEqual(['PARSE_ERROR']);
  });

  itFixtures('rejects a truncated bundle with PARSE_ERROR', () => {
    const text = readFixture('bundleV03-dsse.sigstore');
    expect(codes(parseAttestationFile(text.slice(0, text.length / 2), 'x'))).toEqual(['PARSE_ERROR']);
  });

  it('rejects an oversized file before parsing it', () => {
    const parsed = parseAttestationFile(Buffer.alloc(DEFAULT_LIMITS.maxAttestationBytes + 1, 0x20), 'big');
    expect(codes(parsed)).toEqual(['LIMIT_EXCEEDED']);
  });

  it('accepts a statement with exactly as many subjects as the limit', async () => {
    const ten = createStatement(
      Array.from({ length: 10 }, (_, i) => ({ name: `${i}`, digests: { sha256: 'a'.repeat(64) } })),
      'x',
      {},
    );
    const file = JSON.stringify(await signStatement(ten, key.sign));
    expect(codes(parseAttestationFile(file, 'x', { ...DEFAULT_LIMITS, maxSubjects: 10 }))).toEqual([]);
  });

  it('rejects a statement with too many subjects', async () => {
    const many = createStatement(
      Array.from({ length: 11 }, (_, i) => ({ name: `${i}`, digests: { sha256: 'a'.repeat(64) } })),
      'x',
      {},
    );
    const file = JSON.stringify(await signStatement(many, key.sign));
    expect(codes(parseAttestationFile(file, 'x', { ...DEFAULT_LIMITS, maxSubjects: 10 }))).toEqual([
      'LIMIT_EXCEEDED',
    ]);
  });

  describe('with hostile input (property-based)', () => {
    it('never throws, and every failure is a reason', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string(),
            fc.json(),
            fc.jsonValue().map((v) => JSON.stringify(v)),
          ),
          (text) => {
            const parsed = parseAttestationFile(text, 'fuzz');
            expect(parsed.attestations.length + parsed.errors.length).toBeGreaterThan(0);
          },
        ),
        { numRuns: 2000 },
      );
    });

    it('never accepts a mutated envelope field as a different shape without a reason', async () => {
      const base = await envelope();
      fc.assert(
        fc.property(
          fc.constantFrom('payload', 'payloadType', 'signatures'),
          fc.jsonValue(),
          (field, value) => {
            const parsed = parseAttestationFile(JSON.stringify({ ...base, [field]: value }), 'm');
            // Either it is still a well-formed statement, or it says why not.
            if (parsed.attestations.length === 0) expect(parsed.errors.length).toBe(1);
          },
        ),
        { numRuns: 1000 },
      );
    });

    /** Never throws, always says something, and never yields more than the one attestation there was. */
    const survivesMutations = (text: string) =>
      fc.assert(
        fc.property(fc.nat(text.length - 1), fc.string({ minLength: 1, maxLength: 4 }), (at, insert) => {
          const parsed = parseAttestationFile(text.slice(0, at) + insert + text.slice(at + 1), 'mut');
          expect(parsed.attestations.length + parsed.errors.length).toBeGreaterThan(0);
          expect(parsed.attestations.length).toBeLessThanOrEqual(1);
        }),
        { numRuns: 1000 },
      );

    itFixtures('survives arbitrary mutations of a real bundle', () => {
      survivesMutations(readFixture('bundleV03-intoto.sigstore'));
    });

    it('survives arbitrary mutations of a keyless bundle (test instance)', () => {
      survivesMutations(prettyKeyless());
    });
  });
});

describe('what a statement that cannot be read says', () => {
  const messages = async (payload: unknown, limits = DEFAULT_LIMITS) => {
    const file = JSON.stringify(await signPayload(Buffer.from(JSON.stringify(payload)), key.sign));
    return parseAttestationFile(file, 'app.sigstore.json', limits).errors.map(
      (e) => `${e.code} ${e.message}`,
    );
  };
  const statement = createStatement([{ name: 'a', digests: { sha256: 'a'.repeat(64) } }], 'x', {});

  it('names the file and the first field that is wrong, where there is one', async () => {
    const [problem] = await messages({ ...statement, subject: [{ name: 'a', digest: 'not an object' }] });
    expect(problem).toMatch(
      /^PARSE_ERROR .*app\.sigstore\.json.*: not an in-toto Statement at \/subject\/0\/digest: \S/,
    );
  });

  it('says nothing of a field when the statement as a whole is wrong', async () => {
    const { subject: _none, ...noSubject } = statement;
    const [problem] = await messages(noSubject);
    expect(problem).toMatch(/: not an in-toto Statement: must have required property 'subject'$/);
  });

  it('says how many subjects there are, and the limit', async () => {
    const many = { ...statement, subject: Array.from({ length: 3 }, () => statement.subject[0]) };
    const [problem] = await messages(many, { ...DEFAULT_LIMITS, maxSubjects: 2 });
    expect(problem).toMatch(/^LIMIT_EXCEEDED .*: 3 subjects exceeds the limit of 2$/);
  });
});
