import { describe, expect, it } from 'vitest';
import {
  createStatement,
  DEFAULT_LIMITS,
  parseAttestationFile,
  signStatement,
  subjectDigests,
  toReason,
  VouchError,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';
import { keyedBundle } from '../../helpers/sigstore/index.ts';

// What an uploader reads when an attestation file is refused: each reason names the file and says what
// was wrong with it, in words that point at the field to fix.
const key = testKey();
const statement = createStatement(
  [{ name: 'a', digests: { sha256: 'a'.repeat(64) } }],
  'https://slsa.dev/provenance/v1',
  {},
);
const json = <T>(value: T): T => JSON.parse(JSON.stringify(value));
const dsseBundle = async () => json(await signStatement(statement, key.sign));
const envelope = async () => (await dsseBundle()).dsseEnvelope;
const messageBundle = async () =>
  json(await keyedBundle({ key, content: { artifact: Buffer.from('bits') } }));
const refusal = (content: unknown) => {
  const parsed = parseAttestationFile(
    typeof content === 'string' ? content : JSON.stringify(content),
    'up/a.json',
  );
  expect(parsed.attestations).toEqual([]);
  return parsed.errors;
};
const refused = (code: string, message: string) => [{ code, message, subject: 'up/a.json' }];

describe('#parseAttestationFile, the reasons it gives', () => {
  it('for a document that is not an object, or neither a bundle nor an envelope', () => {
    expect(refusal('[1,2]')).toEqual(
      refused('UNSUPPORTED_FORMAT', 'up/a.json: expected a JSON object, found an array'),
    );
    expect(refusal({ payload: 'e30=' })).toEqual(
      refused(
        'UNSUPPORTED_FORMAT',
        'up/a.json: neither a Sigstore bundle (no mediaType) nor a DSSE envelope (no payloadType/signatures)',
      ),
    );
    expect(refusal({ mediaType: 'application/json' })).toEqual(
      refused('UNSUPPORTED_FORMAT', 'up/a.json: unsupported bundle media type "application/json"'),
    );
  });

  it('for a bare envelope with a bad field, naming the field', async () => {
    const env = await envelope();
    expect(refusal({ ...env, payloadType: 5 })).toEqual(
      refused('PARSE_ERROR', 'up/a.json: payloadType must be a string, found a number'),
    );
    expect(refusal({ ...env, payloadType: 'text/plain' })).toEqual(
      refused(
        'UNSUPPORTED_FORMAT',
        'up/a.json: payloadType must be application/vnd.in-toto+json, found "text/plain"',
      ),
    );
    expect(refusal({ ...env, payload: '!!!' })).toEqual(
      refused('PARSE_ERROR', 'up/a.json: payload: not valid base64'),
    );
    expect(refusal({ ...env, signatures: [] })).toEqual(
      refused('PARSE_ERROR', 'up/a.json: a DSSE envelope needs a non-empty signatures array'),
    );
    expect(refusal({ ...env, signatures: [env.signatures[0], 5] })).toEqual(
      refused('PARSE_ERROR', 'up/a.json: signatures[1] must be an object'),
    );
    expect(refusal({ ...env, signatures: [env.signatures[0], { sig: '!!' }] })).toEqual(
      refused('PARSE_ERROR', 'up/a.json: signatures[1].sig: not valid base64'),
    );
    expect(refusal({ ...env, signatures: [{ ...env.signatures[0], keyid: 5 }] })).toEqual(
      refused('PARSE_ERROR', 'up/a.json: signatures[0].keyid must be a string'),
    );
  });

  it('for an envelope with more signatures than the limit, saying how many', async () => {
    const env = await envelope();
    const parsed = parseAttestationFile(
      JSON.stringify({ ...env, signatures: Array(3).fill(env.signatures[0]) }),
      'up/a.json',
      { ...DEFAULT_LIMITS, maxSignatures: 2 },
    );
    expect(parsed.errors).toEqual(
      refused('LIMIT_EXCEEDED', 'up/a.json: 3 signatures exceeds the limit of 2'),
    );
  });

  it('for a bundle that does not decode, with the decoder as the cause', async () => {
    const [reason] = refusal({ ...(await dsseBundle()), verificationMaterial: 5 });
    expect(reason).toEqual({
      code: 'PARSE_ERROR',
      message: expect.stringMatching(/^up\/a\.json: invalid Sigstore bundle: ./),
      subject: 'up/a.json',
    });
  });

  it('for a bundle whose content field is not an object, as a bundle that does not decode', async () => {
    const invalid = refused('PARSE_ERROR', 'up/a.json: invalid Sigstore bundle: invalid bundle');
    expect(refusal({ ...(await dsseBundle()), dsseEnvelope: 'x' })).toEqual(invalid);
    expect(refusal({ ...(await messageBundle()), messageSignature: 'x' })).toEqual(invalid);
  });

  it('for a file over the size limit in bytes, however many characters it has', () => {
    const limits = { ...DEFAULT_LIMITS, maxAttestationBytes: 10 };
    // Six characters, twelve bytes in UTF-8.
    expect(parseAttestationFile('éééééé', 'up/a.json', limits).errors).toEqual([
      { code: 'LIMIT_EXCEEDED', message: 'up/a.json: 12 bytes exceeds the limit of 10' },
    ]);
    // Exactly the limit is read (and refused for what it is).
    expect(
      parseAttestationFile('éééééé', 'up/a.json', { ...limits, maxAttestationBytes: 12 }).errors,
    ).toEqual([expect.objectContaining({ code: 'PARSE_ERROR' })]);
    expect(parseAttestationFile(Buffer.from('éééééé'), 'up/a.json', limits).errors).toEqual([
      { code: 'LIMIT_EXCEEDED', message: 'up/a.json: 12 bytes exceeds the limit of 10' },
    ]);
  });

  it('for a message signature over a digest Vouch does not compute', async () => {
    const bundle = await messageBundle();
    const digest = bundle.messageSignature?.messageDigest;
    if (!digest) throw new Error('a message signature bundle has a digest');
    digest.algorithm = 'SHA2_384';
    expect(refusal(bundle)).toEqual(
      refused('UNSUPPORTED_FORMAT', 'up/a.json: message signature without a sha256 or sha512 digest'),
    );
  });
});

describe('#parseAttestationFile, what it reads', () => {
  it('reads a bundle whose other content field is null as the content it has', async () => {
    const message = parseAttestationFile(
      JSON.stringify({ ...(await messageBundle()), dsseEnvelope: null }),
      'm',
    );
    expect(message.errors).toEqual([]);
    expect(message.attestations.map((a) => a.kind)).toEqual(['signature']);
    const dsse = parseAttestationFile(
      JSON.stringify({ ...(await dsseBundle()), messageSignature: null }),
      'd',
    );
    expect(dsse.errors).toEqual([]);
    expect(dsse.attestations.map((a) => a.kind)).toEqual(['statement']);
  });

  it('gives an envelope signature without a keyid an empty key hint, as DSSE means it', async () => {
    const env = await envelope();
    const [attestation] = parseAttestationFile(
      JSON.stringify({ ...env, signatures: [{ sig: env.signatures[0]?.sig }] }),
      'e',
    ).attestations;
    const [bundle] = attestation?.signatures ?? [];
    expect(bundle?.verificationMaterial.content).toEqual({ $case: 'publicKey', publicKey: { hint: '' } });
    expect(bundle?.content.$case === 'dsseEnvelope' && bundle.content.dsseEnvelope.signatures[0]?.keyid).toBe(
      '',
    );
  });

  it('skips lines of white space in JSON Lines', async () => {
    const line = JSON.stringify(await envelope());
    const parsed = parseAttestationFile(`${line}\n \t \n${line}\n`, 'p.intoto.jsonl');
    expect(parsed.errors).toEqual([]);
    expect(parsed.attestations.map((a) => a.source)).toEqual(['p.intoto.jsonl#1', 'p.intoto.jsonl#2']);
  });

  it('gives a single document no line number at all', async () => {
    const [attestation] = parseAttestationFile(JSON.stringify(await envelope()), 'e').attestations;
    expect(attestation && 'line' in attestation).toBe(false);
  });
});

describe('#subjectDigests', () => {
  it('lists only the digests Vouch computes, in lower case', async () => {
    const named = {
      _type: 'https://in-toto.io/Statement/v1' as const,
      subject: [
        { name: 'a', digest: { sha256: 'A'.repeat(64), gitCommit: 'b'.repeat(40), sha512: 'c'.repeat(128) } },
      ],
      predicateType: 'https://example.com/p',
      predicate: {},
    };
    const file = parseAttestationFile(JSON.stringify(json(await signStatement(named, key.sign))), 'x');
    expect(subjectDigests(file.attestations)).toEqual([
      `sha256:${'a'.repeat(64)}`,
      `sha512:${'c'.repeat(128)}`,
    ]);
  });
});

describe('#toReason', () => {
  it('keeps a VouchError code, and calls anything else a parse error', () => {
    expect(toReason(new VouchError('LIMIT_EXCEEDED', 'too big'), 's')).toStrictEqual({
      code: 'LIMIT_EXCEEDED',
      message: 'too big',
      subject: 's',
    });
    expect(toReason(new Error('boom'), 's')).toStrictEqual({
      code: 'PARSE_ERROR',
      message: 'boom',
      subject: 's',
    });
    expect(toReason('plain')).toStrictEqual({ code: 'PARSE_ERROR', message: 'plain' });
  });
});
