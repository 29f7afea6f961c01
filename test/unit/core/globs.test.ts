import { describe, expect, it } from 'vitest';
import { compileGlobs } from '#core/globs.ts';
import { VouchError } from '#core/index.ts';

// Object-key globs: a pattern matches keys as written, or is refused with the reason it never could.

const refusal = (pattern: string) => {
  try {
    compileGlobs(['releases/**', pattern], 'rules/0/match');
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return (error as VouchError).message;
  }
  return undefined;
};

describe('#compileGlobs', () => {
  it.each(['releases/../app', 'releases/./app', 'releases//app', '..', '/releases/app', 'releases/'])(
    'refuses %j, which no accepted object key could match',
    (pattern) => {
      expect(refusal(pattern)).toBe(
        `rules/0/match/1: ${JSON.stringify(pattern)} has an empty, "." or ".." segment, or starts with "/", which no accepted object key has`,
      );
    },
  );

  it('accepts segments that only contain dots', () => {
    expect(refusal('releases/...')).toBeUndefined();
    expect(refusal('releases/..app')).toBeUndefined();
  });

  it.each(['@(a|b)', '!(a)', '+(a)', '*(a)', '?(a)'])('refuses the extended glob %j', (glob) => {
    expect(refusal(`releases/${glob}`)).toBe(
      `rules/0/match/1: ${JSON.stringify(`releases/${glob}`)} uses an extended glob (\`@(\`, \`!(\`, \`+(\`, \`*(\`, \`?(\`), which is not supported`,
    );
  });

  it('refuses a negation, pointing at exclude', () => {
    expect(refusal('!releases/tmp/**')).toBe(
      'rules/0/match/1: "!releases/tmp/**" is a negation; list what to leave out under exclude',
    );
  });

  it('matches dotfiles and dot directories as any other name', () => {
    const matches = compileGlobs(['releases/**', 'config/*'], 'exclude');
    expect(matches('releases/.env')).toBe(true);
    expect(matches('releases/.git/config')).toBe(true);
    expect(matches('config/.secrets')).toBe(true);
    expect(matches('other/.env')).toBe(false);
  });

  it('matches parentheses and bars as themselves', () => {
    const matches = compileGlobs(['releases/app(1)|x.bin'], 'match');
    expect(matches('releases/app(1)|x.bin')).toBe(true);
    expect(matches('releases/app1|x.bin')).toBe(false);
    expect(matches('releases/app(1)')).toBe(false);
  });
});
