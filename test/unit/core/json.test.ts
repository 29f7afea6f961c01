import { describe, expect, it } from 'vitest';
import { isRecord, parseJson } from '#core/json.ts';

// Untrusted JSON is measured before it is parsed: how deep its brackets nest, outside strings.
const depthRefusal = (text: string, maxDepth: number) => {
  try {
    parseJson(text, maxDepth, 'doc');
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('#parseJson', () => {
  it('parses JSON nested up to the limit, and refuses one level more, saying how deep', () => {
    expect(parseJson('[[{"a":[]}]]', 4, 'doc')).toEqual([[{ a: [] }]]);
    expect(depthRefusal('[[{"a":[[]]}]]', 4)).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: 'doc: JSON nesting depth 5 exceeds the limit of 4',
    });
  });

  it('measures the deepest point, not the last one', () => {
    expect(depthRefusal('[[[]],[]]', 2)).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(parseJson('[[[]],[]]', 3, 'doc')).toEqual([[[]], []]);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(parseJson('["[[[[[[", {"k": "{{{{"}]', 2, 'doc')).toEqual(['[[[[[[', { k: '{{{{' }]);
    expect(parseJson(String.raw`["\"[[[[[[", "\\"]`, 1, 'doc')).toEqual(['"[[[[[[', '\\']);
  });

  it('refuses what is not JSON as a parse error, keeping the parser error as the cause', () => {
    const error = depthRefusal('{"a":', 4);
    expect(error).toMatchObject({
      code: 'PARSE_ERROR',
      message: expect.stringMatching(/^doc: not valid JSON \(/),
    });
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });
});

describe('#isRecord', () => {
  it('is true of objects only: not of arrays, null or primitives', () => {
    expect(isRecord({})).toBe(true);
    expect([[], null, 'x', 1, undefined].map(isRecord)).toEqual([false, false, false, false, false]);
  });
});
