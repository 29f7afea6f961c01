import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '#core/encoding.ts';
import { createStatement, parseAttestationFile, VouchError } from '#core/index.ts';
import { FIXTURES_AVAILABLE, fixtureJson } from '../../helpers/fixtures.ts';
import { keylessBundle } from '../../helpers/sigstore/index.ts';

describe('#decodeBase64', () => {
  it('accepts standard and URL-safe base64, padded or not', () => {
    expect(decodeBase64('aGVsbG8=', 'x').toString()).toBe('hello');
    expect(decodeBase64('aGVsbG8', 'x').toString()).toBe('hello');
    expect(decodeBase64('-_-_', 'x')).toEqual(Buffer.from([0xfb, 0xff, 0xbf]));
    expect(decodeBase64('+/-_', 'x')).toEqual(Buffer.from([0xfb, 0xff, 0xbf]));
  });

  it('refuses characters Buffer.from would silently skip', () => {
    for (const bad of ['aGVs bG8=', 'aGVs\nbG8=', 'aGVsbG8!', 'a===', 'a']) {
      expect(() => decodeBase64(bad, 'payload')).toThrow(/payload: not valid base64/);
    }
  });

  it.each([
    [null, 'null'],
    [['aGVsbG8='], 'an array'],
    [{ value: 'aGVsbG8=' }, 'an object'],
    [42, 'a number'],
    [true, 'a boolean'],
    [undefined, 'nothing'],
  ])('refuses %j where a base64 string belongs, naming what it found', (value, found) => {
    expect(() => decodeBase64(value, 'signatures[0].sig')).toThrow(
      new VouchError('PARSE_ERROR', `signatures[0].sig: expected a base64 string, found ${found}`),
    );
  });

  it('refuses a long almost-base64 string at once (no catastrophic backtracking)', () => {
    // With overlapping alternatives in the pattern this took ~2^n steps: a hang, not a rejection.
    expect(() => decodeBase64(`${'A'.repeat(100_000)}!`, 'sig')).toThrow(/not valid base64/);
  });
});

describe('base64 inside Sigstore bundles', () => {
  it('is checked as strictly as in a bare envelope (keyless bundle of the test instance)', () => {
    const statement = createStatement([{ name: 'a', digests: { sha256: 'a'.repeat(64) } }], 'x', {});
    const bundle = keylessBundle({ content: { statement } });
    const envelope = bundle.dsseEnvelope as { payload: string };
    envelope.payload = `${envelope.payload.slice(0, 10)}!!!!${envelope.payload.slice(10)}`;
    const parsed = parseAttestationFile(JSON.stringify(bundle), 'b.sigstore.json');
    expect(parsed.attestations).toEqual([]);
    expect(parsed.errors.map((e) => [e.code, e.message])).toEqual([
      ['PARSE_ERROR', 'b.sigstore.json: dsseEnvelope.payload: not valid base64'],
    ]);
  });

  it.skipIf(!FIXTURES_AVAILABLE)('is checked as strictly as in a bare envelope', () => {
    const bundle = fixtureJson('bundleV03-dsse.sigstore');
    const payload = bundle.dsseEnvelope.payload as string;
    bundle.dsseEnvelope.payload = `${payload.slice(0, 10)}!!!!${payload.slice(10)}`;
    const parsed = parseAttestationFile(JSON.stringify(bundle), 'b.sigstore.json');
    expect(parsed.attestations).toEqual([]);
    expect(parsed.errors.map((e) => [e.code, e.message])).toEqual([
      ['PARSE_ERROR', 'b.sigstore.json: dsseEnvelope.payload: not valid base64'],
    ]);
  });
});
