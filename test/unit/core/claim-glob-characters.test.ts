import { describe, expect, it } from 'vitest';
import { compileClaimRequirements } from '#core/index.ts';

// A claim glob refuses, when the policy loads, what object-key globs refuse: characters that make a
// pattern show as something it is not.
const compile = (sourceRef: string) => () => compileClaimRequirements({ sourceRef }, 'rules[0].claims');

describe('claim globs, characters refused when the policy loads', () => {
  it.each([
    [
      'the Arabic letter mark (U+061C), a bidirectional control',
      '\u061C',
      'contains a control, bidirectional or backslash character',
    ],
    ['a right-to-left override', '\u202E', 'contains a control, bidirectional or backslash character'],
    ['a zero-width space', '\u200B', 'contains an invisible character'],
    ['a word joiner', '\u2060', 'contains an invisible character'],
    ['a soft hyphen', '\u00AD', 'contains an invisible character'],
    ['a byte order mark', '\uFEFF', 'contains an invisible character'],
  ])('%s', (_what, char, why) => {
    const pattern = `refs/heads/ma${char}in`;
    expect(compile(pattern)).toThrow(
      expect.objectContaining({
        code: 'PARSE_ERROR',
        message: `rules[0].claims/sourceRef: ${JSON.stringify(pattern)} ${why}`,
      }),
    );
  });

  it('keeps ZWJ and ZWNJ, which scripts need, as object keys do', () => {
    for (const char of ['\u200C', '\u200D']) {
      const check = compile(`refs/heads/ma${char}in`)();
      expect(check?.({ sourceRepositoryRef: `refs/heads/ma${char}in` })).toBeUndefined();
    }
  });
});
