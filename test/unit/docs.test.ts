import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConditionEngine, loadPolicySyntax, parsePolicy } from '#core/index.ts';

await Promise.all([loadConditionEngine(), loadPolicySyntax()]);

const root = new URL('../../', import.meta.url);

describe('documentation stays true', () => {
  it('the README policy example is a valid policy', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const section = readme.slice(readme.indexOf('## Policy format'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    expect(parsePolicy(yaml ?? '').rules.map((rule) => rule.name)).toEqual(['releases']);
  });

  it('the README worked examples of conditions, vulnerability gating and exceptions are valid policies', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const example = (heading: string) => {
      const section = readme.slice(readme.indexOf(heading));
      return /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    };
    expect(parsePolicy(example('### Conditions (CEL)')).rules[0]?.requirements[0]?.conditions).toHaveLength(
      4,
    );
    expect(
      parsePolicy(example('### Vulnerability gating')).rules[0]?.requirements[1]?.vulnerabilities,
    ).toMatchObject({
      maxSeverity: 'medium',
      honorVex: true,
    });
    const phased = parsePolicy(example('### Exceptions and phase-in'));
    expect(phased.exceptions).toHaveLength(1);
    expect(phased.rules[1]?.enforceFrom?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('policies/supply-chain.yaml uses conditions, vulnerability gating, a phase-in and an exception', () => {
    const policy = parsePolicy(readFileSync(new URL('policies/supply-chain.yaml', root)));
    const [releases, sbom] = policy.rules;
    expect(releases?.requirements[0]?.conditions.length).toBeGreaterThan(0);
    expect(releases?.requirements[1]?.vulnerabilities?.honorVex).toBe(true);
    expect(sbom?.enforceFrom).toBeDefined();
    expect(policy.exceptions).toHaveLength(1);
  });

  it('policies/example.yaml is a valid policy', () => {
    const policy = parsePolicy(readFileSync(new URL('policies/example.yaml', root)));
    expect(policy.rules.map((rule) => rule.name)).toEqual(['releases', 'npm-packages']);
  });
});

describe('the README deploy section', () => {
  it('documents every configuration key, and no other', async () => {
    const { CONFIG_KEYS } = await import('../../lib/config.ts');
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const section = readme.slice(readme.indexOf('**Configuration**'), readme.indexOf('**Outputs:**'));
    const documented = [...section.matchAll(/^\| (.+?) \|/gm)]
      .flatMap((row) => [...(row[1] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]))
      .filter((key) => key !== undefined && key !== 'key');
    expect(new Set(documented)).toEqual(new Set(CONFIG_KEYS));
  });
});

describe('the README layout', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const section = readme.slice(readme.indexOf('### Layout'), readme.indexOf('## Roadmap'));
  const listed = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((row) => row[1] as string);

  it('lists only paths that exist', () => {
    expect(listed.length).toBeGreaterThan(10);
    for (const path of listed) expect(existsSync(new URL(path, root)), path).toBe(true);
  });

  it('lists every source folder', () => {
    const folders = (dir: string) =>
      readdirSync(new URL(dir, root), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => `${dir}${entry.name}/`);
    const expected = [
      ...folders('lambdas/'),
      'bin/',
      'lib/',
      'local/',
      ...folders('test/').filter((dir) => dir !== 'test/corpus/'),
    ];
    for (const folder of expected) expect(listed, folder).toContain(folder);
  });
});
