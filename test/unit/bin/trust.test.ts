import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../bin/vouch.ts';
import { testInstance } from '../../helpers/sigstore/index.ts';
import { TestTufRepository } from '../../helpers/tuf/repository.ts';

async function vouch(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const servers: { close(): unknown }[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** A TUF repository of its own served on 127.0.0.1, an empty folder as the store, and `vouch trust` on them. */
async function trustRepository() {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-cli-trust-'));
  const store = join(dir, 'store');
  const repository = new TestTufRepository(testInstance().trustedRoot);
  const server = await repository.serve();
  servers.push(server);
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
  const show = (...extra: string[]) => vouch('trust', 'show', '--store', store, ...extra);
  return { repository, store, update, show };
}

describe('vouch trust (a TUF repository served on 127.0.0.1, a folder as the store)', () => {
  it('show, before any update: the root pinned in the build', async () => {
    const { show } = await trustRepository();
    const { code, stdout } = await show();
    expect(code).toBe(0);
    expect(stdout).toMatch(/^public-good {2}pinned {2}pinned in the build {2}sha256:[0-9a-f]{64}$/m);
    expect(stdout).toContain('0 verified version(s) kept');
  });

  it('update verifies and stores the first version, then finds nothing newer', async () => {
    const { update } = await trustRepository();
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
    const { repository, update } = await trustRepository();
    expect((await update()).code).toBe(0);
    repository.rotateRoot();
    expect(await update()).toMatchObject({
      code: 0,
      stdout: 'updated   public-good (root-000002/timestamp-0000000002)',
    });
  });

  it('show prints the version in use, its digest, when it was verified, and how many are kept', async () => {
    const { repository, update, show } = await trustRepository();
    expect((await update()).code).toBe(0);
    repository.rotateRoot();
    expect((await update()).code).toBe(0);
    const { stdout } = await show();
    expect(stdout).toMatch(
      /^public-good {2}tuf {2}root-000002\/timestamp-0000000002 {2}sha256:[0-9a-f]{64}$/m,
    );
    expect(stdout).toMatch(/verified \S+Z, last confirmed current \S+Z/);
    expect(stdout).toContain('2 verified version(s) kept');
    const json = JSON.parse((await show('--json')).stdout);
    expect(json[0]).toMatchObject({
      instance: 'public-good',
      source: 'tuf',
      versions: { root: 2, timestamp: 2 },
    });
  });

  it('update refuses a rollback, exits 1 and keeps the stored version', async () => {
    const { repository, update, show } = await trustRepository();
    expect((await update()).code).toBe(0);
    repository.publishTimestamp();
    expect((await update()).stdout).toBe('updated   public-good (root-000001/timestamp-0000000002)');
    repository.serveOldTimestamp();
    const { code, stderr } = await update();
    expect(code).toBe(1);
    expect(stderr).toMatch(/^REFUSED {2}public-good: New timestamp version 1 is less than current version 2/);
    expect((await show()).stdout).toContain('root-000001/timestamp-0000000002');
  });

  it('exits 2 for GitHub’s instance without its TUF root', async () => {
    const { store } = await trustRepository();
    const { code, stderr } = await vouch('trust', 'update', '--instance', 'github', '--store', store);
    expect(code).toBe(2);
    expect(stderr).toMatch(/its TUF root\.json is required/);
  });
});
