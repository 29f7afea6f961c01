import { describe, expect, it } from 'vitest';
import { builderIdAllowed, normaliseRepository } from '#core/index.ts';

describe('#normaliseRepository', () => {
  it.each([
    ['git+https://github.com/acme/app@refs/heads/main', 'https://github.com/acme/app'],
    ['git+https://github.com/acme/app.git@refs/tags/v1.0.0', 'https://github.com/acme/app'],
    ['https://github.com/acme/app', 'https://github.com/acme/app'],
    ['https://github.com/acme/app/', 'https://github.com/acme/app'],
    ['ssh://git@example.com/acme/app.git', 'ssh://git@example.com/acme/app'],
  ])('%s → %s', (uri, expected) => {
    expect(normaliseRepository(uri)).toBe(expected);
  });
});

describe('#builderIdAllowed', () => {
  const allowed = ['https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder.yml'];
  it('allows any ref of an ID listed without one', () => {
    expect(builderIdAllowed(`${allowed[0]}@refs/tags/v2.0.0`, allowed)).toBe(true);
  });
  it('refuses an ID that only starts with an allowed one', () => {
    expect(builderIdAllowed(`${allowed[0]}.evil@refs/tags/v2.0.0`, allowed)).toBe(false);
  });
  it('pins the ref when the allowed ID has one', () => {
    expect(builderIdAllowed(`${allowed[0]}@refs/tags/v1`, [`${allowed[0]}@refs/tags/v2`])).toBe(false);
  });
});
