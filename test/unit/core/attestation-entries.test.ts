import { describe, expect, it, vi } from 'vitest';
import {
  createStatement,
  DEFAULT_LIMITS,
  parseAttestationFile,
  signStatement,
  subjectDigests,
  verifySignature,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';
import { keyedBundle } from '../../helpers/sigstore/index.ts';

const key = testKey();
const statement = createStatement(
  [{ name: 'a', digests: { sha256: 'a'.repeat(64) } }],
  'https://slsa.dev/provenance/v1',
  {},
);
const signedBundle = async () => JSON.parse(JSON.stringify(await signStatement(statement, key.sign)));
const envelope = async () => (await signedBundle()).dsseEnvelope;
const messageSignatureBundle = () => keyedBundle({ key, content: { artifact: Buffer.from('bits') } });
/** A base64 string with a character Buffer.from would skip: the same bytes to a lenient decoder. */
const mangle = (base64: string) => `${base64.slice(0, 4)}!${base64.slice(4)}`;
const codes = (file: ReturnType<typeof parseAttestationFile>) => file.errors.map((e) => e.code);
const signatureContext = (keys: (hint: string) => undefined | ReturnType<typeof key.trusted>) => ({
  keys,
  keylessRoots: [],
  observedAt: new Date('2026-06-01T00:00:00Z'),
});

describe('#parseAttestationFile, the bounds on one file', () => {
  it('reads a JSON Lines file of exactly maxEntriesPerFile entries, and refuses one entry more', async () => {
    const line = JSON.stringify(await envelope());
    const limits = { ...DEFAULT_LIMITS, maxEntriesPerFile: 3 };
    expect(parseAttestationFile(Array(3).fill(line).join('\n'), 'p.intoto.jsonl', limits)).toMatchObject({
      attestations: { length: 3 },
      errors: [],
    });
    const over = parseAttestationFile(Array(4).fill(line).join('\n'), 'p.intoto.jsonl', limits);
    expect(over.attestations).toEqual([]);
    expect(codes(over)).toEqual(['LIMIT_EXCEEDED']);
  });

  it('reads an envelope with exactly maxSignatures signatures, and refuses one signature more', async () => {
    const env = await envelope();
    const withSignatures = (n: number) =>
      JSON.stringify({ ...env, signatures: Array(n).fill(env.signatures[0]) });
    const limits = { ...DEFAULT_LIMITS, maxSignatures: 2 };
    expect(
      parseAttestationFile(withSignatures(2), 'e.json', limits).attestations[0]?.signatures,
    ).toHaveLength(2);
    const over = parseAttestationFile(withSignatures(3), 'e.json', limits);
    expect(over.attestations).toEqual([]);
    expect(codes(over)).toEqual(['LIMIT_EXCEEDED']);
  });

  // A whole-file refusal has no entry to name as its subject: its message is what says which file it was.
  it.each([
    ['an empty file', () => '   \n', DEFAULT_LIMITS],
    ['an oversized file', () => 'x'.repeat(11), { ...DEFAULT_LIMITS, maxAttestationBytes: 10 }],
    [
      'too many JSON Lines entries',
      async () => `${JSON.stringify(await envelope())}\n`.repeat(2),
      { ...DEFAULT_LIMITS, maxEntriesPerFile: 1 },
    ],
  ])('names the file when it refuses %s', async (_what, content, limits) => {
    const parsed = parseAttestationFile(await content(), 'uploads/app.intoto.jsonl', limits);
    expect(parsed.errors).toEqual([
      { code: expect.any(String), message: expect.stringContaining('uploads/app.intoto.jsonl') },
    ]);
  });

  it('numbers each JSON Lines entry by its line, and a single document by none', async () => {
    const line = JSON.stringify(await envelope());
    const lines = parseAttestationFile(`${line}\n${line}\n`, 'p.intoto.jsonl').attestations;
    expect(lines.map((a) => a.line)).toEqual([1, 2]);
    expect(parseAttestationFile(line, 'e.json').attestations[0]?.line).toBeUndefined();
  });
});

describe('#parseAttestationFile, the shape of an entry', () => {
  it("refuses a bundle whose DSSE envelope carries two signatures: only one is bound to the bundle's key", async () => {
    const bundle = await signedBundle();
    bundle.dsseEnvelope.signatures.push({ ...bundle.dsseEnvelope.signatures[0], keyid: 'other' });
    const parsed = parseAttestationFile(JSON.stringify(bundle), 'b.sigstore.json');
    expect(parsed.attestations).toEqual([]);
    expect(codes(parsed)).toEqual(['PARSE_ERROR']);
  });

  it('refuses a message signature over a digest other than SHA-256 or SHA-512', async () => {
    const bundle = await messageSignatureBundle();
    (bundle.messageSignature as { messageDigest: { algorithm: string } }).messageDigest.algorithm =
      'SHA2_384';
    const parsed = parseAttestationFile(JSON.stringify(bundle), 'm.sigstore.json');
    expect(parsed.attestations).toEqual([]);
    expect(codes(parsed)).toEqual(['UNSUPPORTED_FORMAT']);
  });

  // Buffer.from skips what is not base64, so without the strict check each would parse as the same bytes.
  it.each([
    [
      'dsseEnvelope.signatures[0].sig',
      async () => {
        const bundle = await signedBundle();
        bundle.dsseEnvelope.signatures[0].sig = mangle(bundle.dsseEnvelope.signatures[0].sig);
        return bundle;
      },
    ],
    [
      'messageSignature.signature',
      async () => {
        const bundle = await messageSignatureBundle();
        const message = bundle.messageSignature as { signature: string };
        message.signature = mangle(message.signature);
        return bundle;
      },
    ],
    [
      'messageSignature.messageDigest.digest',
      async () => {
        const bundle = await messageSignatureBundle();
        const message = bundle.messageSignature as { messageDigest: { digest: string } };
        message.messageDigest.digest = mangle(message.messageDigest.digest);
        return bundle;
      },
    ],
  ])('refuses a bundle whose %s is not strict base64, naming the field', async (field, build) => {
    const parsed = parseAttestationFile(JSON.stringify(await build()), 'b.sigstore.json');
    expect(parsed.attestations).toEqual([]);
    expect(parsed.errors).toEqual([
      expect.objectContaining({ code: 'PARSE_ERROR', message: expect.stringContaining(field) }),
    ]);
  });

  it('refuses a bundle whose DSSE signature is null by its own check, naming the field', async () => {
    const bundle = await signedBundle();
    bundle.dsseEnvelope.signatures = [null];
    const parsed = parseAttestationFile(JSON.stringify(bundle), 'b.sigstore.json');
    expect(parsed.errors).toEqual([
      expect.objectContaining({
        code: 'PARSE_ERROR',
        message: expect.stringContaining('dsseEnvelope.signatures[0].sig: expected a base64 string'),
      }),
    ]);
  });

  it('does not read an object with a payloadType but no signatures as an envelope', async () => {
    const { signatures: _none, ...unsigned } = await envelope();
    expect(codes(parseAttestationFile(JSON.stringify(unsigned), 'e.json'))).toEqual(['UNSUPPORTED_FORMAT']);
  });

  it('refuses an envelope with no signatures even when its payload is a valid statement', async () => {
    const parsed = parseAttestationFile(JSON.stringify({ ...(await envelope()), signatures: [] }), 'e.json');
    expect(parsed.attestations).toEqual([]);
    expect(codes(parsed)).toEqual(['PARSE_ERROR']);
  });

  it('refuses an envelope signature whose keyid is not a string', async () => {
    const env = await envelope();
    const parsed = parseAttestationFile(
      JSON.stringify({ ...env, signatures: [{ ...env.signatures[0], keyid: 7 }] }),
      'e.json',
    );
    expect(parsed.attestations).toEqual([]);
    expect(codes(parsed)).toEqual(['PARSE_ERROR']);
  });
});

describe('a bare DSSE envelope, verified', () => {
  const bare = async (keyid?: string) => {
    const env = await envelope();
    const signature = keyid === undefined ? { sig: env.signatures[0].sig } : { ...env.signatures[0], keyid };
    const [attestation] = parseAttestationFile(
      JSON.stringify({ ...env, signatures: [signature] }),
      'e.json',
    ).attestations;
    const bundle = attestation?.signatures[0];
    if (!attestation || !bundle) throw new Error('the envelope did not parse');
    return { attestation, bundle };
  };

  it('looks its key up by the keyid it names', async () => {
    const { attestation, bundle } = await bare(key.keyId);
    const lookup = vi.fn((hint: string) => (hint === key.keyId ? key.trusted() : undefined));
    const result = verifySignature(attestation, bundle, signatureContext(lookup));
    expect(result).toMatchObject({ ok: true, value: { signer: { kind: 'key', keyId: key.keyId } } });
    expect(lookup).toHaveBeenCalledWith(key.keyId);
  });

  it('never asks the key lookup about a signature that names no keyid', async () => {
    const { attestation, bundle } = await bare();
    const lookup = vi.fn(() => key.trusted());
    const result = verifySignature(attestation, bundle, signatureContext(lookup));
    expect(lookup).not.toHaveBeenCalled();
    expect(result).toMatchObject({ ok: false, error: { code: 'UNKNOWN_KEY' } });
  });
});

describe('#subjectDigests', () => {
  it('indexes a message signature under its algorithm and digest', async () => {
    const { attestations } = parseAttestationFile(JSON.stringify(await messageSignatureBundle()), 'm');
    const bits = (await import('node:crypto')).createHash('sha256').update('bits').digest('hex');
    expect(subjectDigests(attestations)).toEqual([`sha256:${bits}`]);
  });

  it('indexes a statement only under the algorithms Vouch computes, in lower case', async () => {
    const subject = { name: 'a', digests: { sha256: 'AB'.repeat(32), gitCommit: 'c'.repeat(40) } };
    const mixed = createStatement([subject], 'x', {});
    const { attestations } = parseAttestationFile(JSON.stringify(await signStatement(mixed, key.sign)), 's');
    expect(subjectDigests(attestations)).toEqual([`sha256:${'ab'.repeat(32)}`]);
  });
});
