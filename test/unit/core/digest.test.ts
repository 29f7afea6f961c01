import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Digester,
  digestFile,
  digestStream,
  digestsMatch,
  formatDigests,
  parseDigest,
  primaryDigest,
} from '#core/index.ts';
import { FIXTURE_ARTIFACT, FIXTURE_SHA512, FIXTURES_AVAILABLE } from '../../helpers/fixtures.ts';

describe('#digestStream', () => {
  it('equals a one-shot hash whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 4096 }), { maxLength: 20 }), async (chunks) => {
        const whole = Buffer.concat(chunks);
        const { digests, size } = await digestStream(Readable.from(chunks.map((c) => Buffer.from(c))), [
          'sha256',
          'sha512',
        ]);
        expect(size).toBe(whole.length);
        expect(digests.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
        expect(digests.sha512).toBe(createHash('sha512').update(whole).digest('hex'));
      }),
      { numRuns: 200 },
    );
  });

  it('computes only the algorithms asked for', async () => {
    const { digests } = await digestStream(Readable.from([Buffer.from('x')]));
    expect(Object.keys(digests)).toEqual(['sha256']);
  });
});

describe('#digestFile', () => {
  it.skipIf(!FIXTURES_AVAILABLE)('matches the fixture artifact sha512 from its README', async () => {
    expect((await digestFile(FIXTURE_ARTIFACT, ['sha512'])).digests.sha512).toBe(FIXTURE_SHA512);
  });

  it('matches a one-shot sha256 and sha512 of a file written here', async () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) % 251));
    const path = join(mkdtempSync(join(tmpdir(), 'vouch-')), 'artifact.tgz');
    writeFileSync(path, bytes);
    const { digests, size } = await digestFile(path, ['sha256', 'sha512']);
    expect(size).toBe(bytes.length);
    expect(digests).toEqual({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sha512: createHash('sha512').update(bytes).digest('hex'),
    });
  });

  it.skipIf(!existsSync('/proc/self/fd'))('closes the file it read (no descriptor left on it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-'));
    const path = join(dir, 'closed.bin');
    writeFileSync(path, Buffer.alloc(3 * 1024 * 1024 + 5, 7));
    const openOnIt = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false; // closed between the listing and the look
        }
      }).length;
    expect((await digestFile(path)).size).toBe(3 * 1024 * 1024 + 5);
    expect(openOnIt()).toBe(0);
    rmSync(dir, { recursive: true });
  });

  it('digests an empty file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vouch-')), 'empty');
    writeFileSync(path, '');
    expect((await digestFile(path)).digests.sha256).toBe(createHash('sha256').digest('hex'));
  });
});

describe('#parseDigest', () => {
  it('parses and lowercases', () => {
    expect(parseDigest(`sha256:${'AB'.repeat(32)}`)).toEqual({ sha256: 'ab'.repeat(32) });
  });
  it('accepts a digest with surrounding whitespace (as pasted), and nothing around it', () => {
    expect(parseDigest(` sha256:${'a'.repeat(64)}\n`)).toEqual({ sha256: 'a'.repeat(64) });
  });
  it.each([
    'md5:abcd',
    `sha256:${'a'.repeat(63)}`,
    `sha256:${'g'.repeat(64)}`,
    'sha256',
    `xsha256:${'a'.repeat(64)}`,
    `sha256:${'a'.repeat(64)}z`,
    `sha256:${'a'.repeat(64)} sha512:${'b'.repeat(128)}`,
  ])('refuses %j', (text) => {
    expect(() => parseDigest(text)).toThrow(/INVALID_DIGEST|expected|must be/);
  });
  it('formats strongest-known first', () => {
    expect(formatDigests({ sha512: 'b', sha256: 'a' })).toEqual(['sha256:a', 'sha512:b']);
    expect(formatDigests({ sha256: 'a' })).toEqual(['sha256:a']);
    expect(formatDigests({ sha512: 'b' })).toEqual(['sha512:b']);
    expect(() => primaryDigest({})).toThrow(/no digest was computed/);
  });
});

describe('#digestsMatch', () => {
  it('needs one shared algorithm', () => {
    expect(digestsMatch({ sha256: 'a' }, { sha512: 'a' })).toBe(false);
  });
  it('refuses a subject whose second algorithm disagrees', () => {
    expect(digestsMatch({ sha256: 'a', sha512: 'b' }, { sha256: 'a', sha512: 'c' })).toBe(false);
  });
  it('matches on the algorithms both sides know: a subject with more digests than the artifact', () => {
    expect(digestsMatch({ sha256: 'a' }, { sha256: 'a', sha512: 'b' })).toBe(true);
    expect(digestsMatch({ sha256: 'a', sha512: 'b' }, { sha256: 'a' })).toBe(true);
  });
  it('ignores algorithms it does not know', () => {
    expect(digestsMatch({ sha256: 'a' }, { sha256: 'A', gitCommit: 'x' })).toBe(true);
  });
});

describe('Digester', () => {
  it('refuses to digest with no algorithm', () => {
    expect(() => new Digester([])).toThrow(/no digest algorithm requested/);
  });

  // Bytes shaped like a DSSE pre-authentication encoding ("DSSEv1 "), whatever the chunking.
  it.each([
    ['one chunk', ['DSSEv1 28 application/vnd.in-toto+json']],
    ['one byte at a time', [...'DSSEv1 x']],
    ['split inside the prefix', ['DSS', 'Ev1', ' 28 rest']],
    ['the prefix exactly, then more', ['DSSEv1 ', 'DSSEv1 ']],
  ])('notices a PAE-shaped artifact: %s', (_what, chunks) => {
    const digester = new Digester();
    for (const chunk of chunks) digester.update(Buffer.from(chunk));
    expect(digester.result().paeShaped).toBe(true);
  });

  it.each([
    ['other bytes', ['DSSEv2 and more']],
    ['the prefix later in the file', ['x', 'DSSEv1 ']],
    ['a prefix cut short', ['DSSEv1']],
  ])('does not flag %s', (_what, chunks) => {
    const digester = new Digester();
    for (const chunk of chunks) digester.update(Buffer.from(chunk));
    expect(digester.result().paeShaped).toBe(false);
  });
});
