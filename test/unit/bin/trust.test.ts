import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../bin/vouch.ts';
import { testInstance } from '../../helpers/sigstore/index.ts';
import { TestTufRepository } from '../../helpers/tuf/repository.ts';

async function vouch(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('vouch trust (a TUF repository served on 127.0.0.1, a folder as the store)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-cli-trust-'));
  const store = join(dir, 'store');
  const repository = new TestTufRepository(testInstance().trustedRoot);
  const server = await repository.serve();
  afterAll(() => server.close());
  const tufRoot = join(dir, 'root.json');
  writeFileSync(tufRoot, repository.initialRoot);
  const update = () =>
    vouch(
      'trust',
      'update',
      '--instance',
      'public-good',
      '--mirror',
      server.url,
      '--tuf-root',
      tufRoot,
      '--store',
      store,
    );

  it('show, before any update: the root pinned in the build', async () => {
    const { code, stdout } = await vouch('trust', 'show', '--store', store);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^public-good {2}pinned {2}pinned in the build {2}sha256:[0-9a-f]{64}$/m);
    expect(stdout).toContain('0 verified version(s) kept');
  });

  it('update verifies and stores the first version, then finds nothing newer', async () => {
    expect(await update()).toMatchObject({
      code: 0,
      stdout: 'updated   public-good (root-000001/timestamp-0000000001)',
    });
    expect(await update()).toMatchObject({
      code: 0,
      stdout: 'unchanged public-good (root-000001/timestamp-0000000001)',
    });
  });

  it('update follows a root rotation', async () => {
    repository.rotateRoot();
    expect((await update()).stdout).toBe('updated   public-good (root-000002/timestamp-0000000002)');
  });

  it('show prints the version in use, its digest, when it was verified, and how many are kept', async () => {
    const { stdout } = await vouch('trust', 'show', '--store', store);
    expect(stdout).toMatch(
      /^public-good {2}tuf {2}root-000002\/timestamp-0000000002 {2}sha256:[0-9a-f]{64}$/m,
    );
    expect(stdout).toMatch(/verified \S+Z, last confirmed current \S+Z/);
    expect(stdout).toContain('2 verified version(s) kept');
    const json = JSON.parse((await vouch('trust', 'show', '--store', store, '--json')).stdout);
    expect(json[0]).toMatchObject({
      instance: 'public-good',
      source: 'tuf',
      versions: { root: 2, timestamp: 2 },
    });
  });

  it('update refuses a rollback, exits 1 and keeps the stored version', async () => {
    repository.publishTimestamp();
    expect((await update()).stdout).toBe('updated   public-good (root-000002/timestamp-0000000003)');
    repository.serveOldTimestamp();
    const { code, stderr } = await update();
    expect(code).toBe(1);
    expect(stderr).toMatch(/^REFUSED {2}public-good: New timestamp version 2 is less than current version 3/);
    expect((await vouch('trust', 'show', '--store', store)).stdout).toContain(
      'root-000002/timestamp-0000000003',
    );
  });

  it('exits 2 for GitHub’s instance without its TUF root', async () => {
    const { code, stderr } = await vouch('trust', 'update', '--instance', 'github', '--store', store);
    expect(code).toBe(2);
    expect(stderr).toMatch(/its TUF root\.json is required/);
  });
});
