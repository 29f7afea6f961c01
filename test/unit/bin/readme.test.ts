import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../bin/cli.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const section = (heading: string) => {
  const start = readme.indexOf(`\n## ${heading}`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
};
const codeBlocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({
  lang: m[1],
  body: m[2] ?? '',
}));

describe('the README on the CLI', () => {
  it('never tells anyone to run an unpinned `npx vouch` (a bare name anyone could publish)', () => {
    for (const { body } of codeBlocks) {
      for (const line of body.split('\n')) {
        // `npx --no vouch` never downloads; any other npx of the name would.
        expect(line).not.toMatch(/\bnpx\s+(?!--no\s)(?:-[\w-]+\s+)*vouch\b/);
      }
    }
  });

  it('installs the CLI in CI from the repository at a commit, through the lockfile, and runs what it built', () => {
    const recipe = codeBlocks.find(({ lang, body }) => lang === 'yaml' && body.includes('vouch.mjs sign'));
    expect(recipe).toBeDefined();
    const body = recipe?.body ?? '';
    expect(body).toMatch(/VOUCH_COMMIT: [0-9a-f]{40}\b/);
    expect(body).toMatch(/ref: "\$\{\{ env\.VOUCH_COMMIT \}\}"/);
    expect(body).toMatch(/npm ci --prefix \.vouch-cli/);
    expect(body).toMatch(/node \.vouch-cli\/dist\/vouch\.mjs upload/);
  });

  it('documents every exit code the CLI uses, in the CLI section', () => {
    const cli = section('CLI');
    for (const code of Object.values(EXIT)) expect(cli).toMatch(new RegExp(`^\\| ${code} \\| `, 'm'));
    expect(cli).toContain('--wait');
  });
});
