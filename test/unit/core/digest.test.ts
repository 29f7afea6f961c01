import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestFile, digestStream, digestsMatch, formatDigests, parseDigest } from '#core/index.ts';
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
  it.each(['md5:abcd', `sha256:${'a'.repeat(63)}`, `sha256:${'g'.repeat(64)}`, 'sha256'])(
    'refuses %j',
    (text) => {
      expect(() => parseDigest(text)).toThrow(/INVALID_DIGEST|expected|must be/);
    },
  );
  it('formats strongest-known first', () => {
    expect(formatDigests({ sha512: 'b', sha256: 'a' })).toEqual(['sha256:a', 'sha512:b']);
  });
});

describe('#digestsMatch', () => {
  it('needs one shared algorithm', () => {
    expect(digestsMatch({ sha256: 'a' }, { sha512: 'a' })).toBe(false);
  });
  it('refuses a subject whose second algorithm disagrees', () => {
    expect(digestsMatch({ sha256: 'a', sha512: 'b' }, { sha256: 'a', sha512: 'c' })).toBe(false);
  });
  it('ignores algorithms it does not know', () => {
    expect(digestsMatch({ sha256: 'a' }, { sha256: 'A', gitCommit: 'x' })).toBe(true);
  });
});
