import { describe, expect, it, vi } from 'vitest';

// Patterns these modules compile once, when they load: the KMS key ARN and printable key-hint checks,
// the control and bidirectional characters refused in object keys, the extended-glob check, the DSSE
// prefix. Each test imports its module afresh under the mutation run (Vite's module runner, which
// `vi.resetModules` resets), so what it checks is the module as loaded while its mutant is active: the
// run changes a module-scope constant only in a module loaded then. Under `npm test` (Node's own module
// loader, which nothing resets) the import is the module already loaded: the same values, checked alike.

const load = {
  keys: async () => {
    vi.resetModules();
    return import('../../../lambdas/core/keys.ts');
  },
  paths: async () => {
    vi.resetModules();
    return import('../../../lambdas/core/paths.ts');
  },
  globs: async () => {
    vi.resetModules();
    return import('../../../lambdas/core/globs.ts');
  },
  digest: async () => {
    vi.resetModules();
    return import('../../../lambdas/core/digest.ts');
  },
};

const ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('isRegistryKeyId: a KMS key ARN, the only hint worth a registry lookup', () => {
  it.each([
    ['a key ARN', ARN],
    ['a key ARN in the China partition', 'arn:aws-cn:kms:cn-north-1:123456789012:key/abc'],
    ['a multi-Region key ARN in GovCloud', 'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1a2b'],
    ['a one-character key ID', 'arn:aws:kms:eu-west-3:123456789012:key/k'],
    ['a 128-character key ID', `arn:aws:kms:eu-west-3:123456789012:key/${'k'.repeat(128)}`],
  ])('accepts %s', async (_what, hint) => {
    const { isRegistryKeyId } = await load.keys();
    expect(isRegistryKeyId(hint)).toBe(true);
  });

  it.each([
    ['anything before it', `x${ARN}`],
    ['anything after it', `${ARN}/extra`],
    ['an 11-digit account', 'arn:aws:kms:us-east-1:12345678901:key/k'],
    ['a 13-digit account', 'arn:aws:kms:us-east-1:1234567890123:key/k'],
    ['an account that is not digits', 'arn:aws:kms:us-east-1:12345678901x:key/k'],
    ['no region', 'arn:aws:kms::123456789012:key/k'],
    ['a region in capitals', 'arn:aws:kms:US-EAST-1:123456789012:key/k'],
    ['a partition in capitals', 'arn:AWS:kms:us-east-1:123456789012:key/k'],
    ['an alias instead of a key', 'arn:aws:kms:us-east-1:123456789012:alias/release'],
    ['no key ID', 'arn:aws:kms:us-east-1:123456789012:key/'],
    ['a key ID with a slash', 'arn:aws:kms:us-east-1:123456789012:key/a/b'],
    ['a 129-character key ID', `arn:aws:kms:eu-west-3:123456789012:key/${'k'.repeat(129)}`],
    ['a sha256: key ID', `sha256:${'a'.repeat(64)}`],
  ])('refuses %s', async (_what, hint) => {
    const { isRegistryKeyId } = await load.keys();
    expect(isRegistryKeyId(hint)).toBe(false);
  });
});

describe('keyHintProblem: printable ASCII, from the first character to the last', () => {
  it.each([ARN, '!', '~~'])('accepts %j', async (hint) => {
    const { keyHintProblem } = await load.keys();
    expect(keyHintProblem(hint)).toBeUndefined();
  });

  it.each([' key', 'key ', 'k\u0000y', 'k\u007fy', 'kéy'])('refuses %j', async (hint) => {
    const { keyHintProblem } = await load.keys();
    expect(keyHintProblem(hint)).toBe('the key hint contains spaces, control or non-ASCII characters');
  });
});

describe('assertSafePath: control and bidirectional characters', () => {
  it.each(['releases/app.tar.gz', 'a', 'releases/ünïcödé (1).bin'])('accepts %j', async (key) => {
    const { assertSafePath } = await load.paths();
    expect(assertSafePath(key)).toBe(key);
  });

  it.each([
    ['releases/a\u0000pp', 'contains control characters'],
    ['releases/a\u0085pp', 'contains control characters'],
    ['releases/a\u202Epp', 'contains bidirectional control characters'],
    ['releases/a\u2067pp', 'contains bidirectional control characters'],
    ['releases/a\u061Cpp', 'contains bidirectional control characters'],
  ])('refuses %j: %s', async (key, why) => {
    const { assertSafePath } = await load.paths();
    expect(() => assertSafePath(key)).toThrow(`object key ${JSON.stringify(key)} ${why}`);
  });
});

describe('compileGlobs: extended globs', () => {
  it('accepts parentheses that do not follow an extended-glob character', async () => {
    const { compileGlobs } = await load.globs();
    expect(compileGlobs(['releases/app(1).bin', 'releases/(x)'], 'match')('releases/app(1).bin')).toBe(true);
  });

  it.each(['@(', '!(', '+(', '*(', '?('])('refuses %j', async (glob) => {
    const { compileGlobs } = await load.globs();
    expect(() => compileGlobs([`releases/${glob}a)`], 'match')).toThrow(/uses an extended glob/);
  });
});

describe('Digester: bytes shaped as a DSSE pre-authentication encoding', () => {
  it.each([
    [['DSSEv1 28 application/vnd.in-toto+json'], true],
    [['DSS', 'Ev1', ' 2 x'], true],
    [['DSSEv1'], false],
    [['DSSEv2 1 x'], false],
    [['hello world'], false],
    [[''], false],
  ])('%j: %s', async (chunks, shaped) => {
    const { Digester } = await load.digest();
    const digester = new Digester();
    for (const chunk of chunks) digester.update(Buffer.from(chunk));
    expect(digester.result().paeShaped).toBe(shaped);
  });
});
