import { describe, expect, it } from 'vitest';
import { assertSafePath, VouchError } from '#core/index.ts';

// Every code point of the ranges an object key must not contain, one by one, and the code points just
// outside each range, which it may: a range narrowed by one (or an isolate forgotten) fails here.

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const hex = (codePoint: number) => `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;

function refusal(path: string): string | undefined {
  try {
    assertSafePath(path);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    expect((error as VouchError).code).toBe('INVALID_PATH');
    return (error as VouchError).message;
  }
}

const refused = [
  { what: 'C0 controls', codePoints: range(0x00, 0x1f), why: /control characters/ },
  { what: 'DEL', codePoints: [0x7f], why: /control characters/ },
  { what: 'C1 controls (NEL, CSI, …)', codePoints: range(0x80, 0x9f), why: /control characters/ },
  { what: 'ALM (Arabic letter mark)', codePoints: [0x061c], why: /bidirectional/ },
  { what: 'LRM and RLM', codePoints: [0x200e, 0x200f], why: /bidirectional/ },
  {
    what: 'embeddings and overrides (LRE, RLE, PDF, LRO, RLO)',
    codePoints: range(0x202a, 0x202e),
    why: /bidirectional/,
  },
  { what: 'isolates (LRI, RLI, FSI, PDI)', codePoints: range(0x2066, 0x2069), why: /bidirectional/ },
  { what: 'soft hyphen', codePoints: [0xad], why: /invisible/ },
  { what: 'Mongolian vowel separator', codePoints: [0x180e], why: /invisible/ },
  { what: 'zero-width space', codePoints: [0x200b], why: /invisible/ },
  { what: 'word joiner and invisible operators', codePoints: range(0x2060, 0x2064), why: /invisible/ },
  { what: 'zero-width no-break space (BOM)', codePoints: [0xfeff], why: /invisible/ },
].flatMap(({ what, codePoints, why }) =>
  codePoints.map((codePoint) => ({ what, codePoint, why, name: hex(codePoint) })),
);

// Next to each refused range, and printable: refused they would only be a nuisance, but a key with them
// is not ambiguous, so it is left to the policy.
const accepted = [
  0x20, 0x7e, 0xa0, 0xac, 0xae, 0x061b, 0x061d, 0x180d, 0x180f, 0x200a, 0x200c, 0x200d, 0x2010, 0x2029,
  0x202f, 0x205f, 0x2065, 0x206a, 0xfefc, 0xff01,
].map((codePoint) => ({
  codePoint,
  name: hex(codePoint),
}));

describe('object keys refused before any glob sees them (INVALID_PATH)', () => {
  it.each(refused)('$what: $name, anywhere in a segment', ({ codePoint, why }) => {
    const c = String.fromCodePoint(codePoint);
    for (const path of [`releases/app${c}.tar.gz`, `${c}releases/app`, `releases/app${c}`])
      expect(refusal(path), JSON.stringify(path)).toMatch(why);
  });
});

describe('object keys with a neighbouring character, accepted', () => {
  it.each(accepted)('$name', ({ codePoint }) => {
    const path = `releases/app${String.fromCodePoint(codePoint)}.tar.gz`;
    expect(refusal(path)).toBeUndefined();
    expect(assertSafePath(path)).toBe(path);
  });
});

describe('object keys an ambiguous reading could make two of', () => {
  it.each([
    ['a "." segment', 'releases/./app.tar.gz', /empty, "\." or "\.\." segment/],
    ['a ".." segment', 'releases/../app.tar.gz', /empty, "\." or "\.\." segment/],
    ['an empty segment', 'releases//app.tar.gz', /empty, "\." or "\.\." segment/],
    ['a trailing "/"', 'releases/', /empty, "\." or "\.\." segment/],
    ['a leading "/"', '/releases/app.tar.gz', /is absolute/],
    ['a backslash', 'releases\\app.tar.gz', /backslash/],
    ['U+FFFD (bytes that were not UTF-8)', 'releases/app\uFFFD.tar.gz', /not valid UTF-8/],
    ['a decomposed accent (not NFC)', 'releases/cafe\u0301.tar.gz', /normal form C/],
    ['nothing at all', '', /is empty/],
  ])('refuses %s', (_what, path, why) => {
    expect(refusal(path)).toMatch(why);
  });

  it('accepts a key of exactly the byte limit and refuses one byte more', () => {
    expect(refusal(`releases/${'a'.repeat(91)}`.slice(0, 100))).toBeUndefined();
    expect(() => assertSafePath('a'.repeat(100), 100)).not.toThrow();
    expect(() => assertSafePath('é'.repeat(50), 100)).not.toThrow();
    expect(() => assertSafePath('a'.repeat(101), 100)).toThrow(/longer than 100 bytes/);
    expect(() => assertSafePath(`${'é'.repeat(50)}a`, 100)).toThrow(/longer than 100 bytes/);
  });

  it('quotes a long key cut at 120 characters in its message', () => {
    const long = `releases/${'a'.repeat(200)}/../x`;
    const message = refusal(long) as string;
    expect(message).toContain(JSON.stringify(`${long.slice(0, 120)}…`));
    const short = 'releases/../x';
    expect(refusal(short)).toContain(JSON.stringify(short));
    const exactly120 = `${'a'.repeat(117)}/..`;
    expect(refusal(exactly120)).toBe(
      `object key ${JSON.stringify(exactly120)} has an empty, "." or ".." segment`,
    );
    const over = `${'a'.repeat(118)}/..`;
    expect(refusal(over)).toBe(
      `object key ${JSON.stringify(`${over.slice(0, 120)}…`)} has an empty, "." or ".." segment`,
    );
  });
});
