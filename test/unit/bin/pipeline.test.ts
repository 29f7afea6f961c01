import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGate, type TestGate } from '../../helpers/gate.ts';
import { vouch } from './binary.ts';

/**
 * The CLI as a pipeline, a deployer and an admin use it, against the whole local gate: the real binary
 * signs through the local KMS, uploads to s3rver, and reads the decisions the verifier records.
 */
let gate: TestGate;
let env: Record<string, string>;
const root = mkdtempSync(join(tmpdir(), 'vouch-cli-pipeline-'));
let count = 0;

beforeAll(async () => {
  gate = await startTestGate();
  env = { ...gate.env };
});
afterAll(async () => {
  await gate?.close();
});

/** A fresh folder with an artifact of random bytes. */
function build(name = 'app.tar.gz') {
  const dir = join(root, `build-${++count}`);
  mkdirSync(dir);
  const file = join(dir, name);
  writeFileSync(file, randomBytes(2048));
  return { dir, file, prefix: `releases/run-${count}/` };
}

const sign = (...files: string[]) =>
  vouch(['sign', ...files, '--builder-id', 'https://ci.example/builder'], { env });

async function stagingKeys(prefix: string): Promise<string[]> {
  const page = await gate.store.client.send(
    new ListObjectsV2Command({ Bucket: gate.stack.names.stagingBucket, Prefix: prefix }),
  );
  return (page.Contents ?? []).map((object) => object.Key as string).sort();
}

describe('vouch upload --wait: a verdict CI can act on', () => {
  it('exits 0 once the signed build is promoted', async () => {
    const { file, prefix } = build();
    expect((await sign(file)).code).toBe(0);
    const run = await vouch(
      ['upload', file, '-a', `${file}.sigstore.json`, '--prefix', prefix, '--wait=60s'],
      {
        env,
      },
    );
    expect(run.stdout).toMatch(new RegExp(`^PROMOTED {2}${prefix}app\\.tar\\.gz {2}sha256:`, 'm'));
    expect(run.code).toBe(0);
  });

  it('exits 1 for a build changed after signing, the root cause first', async () => {
    const { file, prefix } = build();
    expect((await sign(file)).code).toBe(0);
    writeFileSync(file, randomBytes(2048));
    const run = await vouch(['upload', file, '-a', `${file}.sigstore.json`, '--prefix', prefix, '--wait'], {
      env,
    });
    expect(run.code).toBe(1);
    // The verdict follows the upload lines, and its first reason is the root cause.
    expect(run.stdout).toMatch(/^REJECTED .*\n {2}SUBJECT_MISMATCH: /m);
  });

  it('exits 3 when still pending at the deadline, saying why and how to ask again', async () => {
    const { file, prefix } = build();
    const run = await vouch(['upload', file, '--prefix', prefix, '--wait', '2s'], { env });
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^PENDING /m);
    expect(run.stderr).toMatch(
      new RegExp(
        `still pending after 2s \\(MISSING_ATTESTATION: .*\\); rejected at .* unless its attestations arrive — check again: vouch status s3://vouch-staging/${prefix}app\\.tar\\.gz --version-id \\S+ --wait`,
      ),
    );
  });
});

describe('vouch upload, then vouch status as it says', () => {
  it('prints the follow-up command, which waits for exactly that upload', async () => {
    const { file, prefix } = build();
    const uploaded = await vouch(['upload', file, '--prefix', prefix], { env });
    expect(uploaded.code).toBe(0);
    const command = /^the verdict: vouch (status .*)$/m.exec(uploaded.stdout)?.[1];
    // Copied into a shell as printed: the version (here an ETag: s3rver is unversioned) needs no quoting.
    expect(command).toMatch(/^status s3:\/\/vouch-staging\/\S+ --version-id [0-9a-f]+ --wait$/);
    const args = (command as string).split(' ');

    // No attestation yet: pending, exit 3, both at once and at the end of a short wait.
    await gate.settle();
    const now = await vouch(args.slice(0, -1), { env });
    expect(now.code).toBe(3);
    expect(now.stdout).toMatch(/^PENDING/);
    expect((await vouch([...args.slice(0, -1), '--wait=300ms'], { env })).code).toBe(3);

    // The same artifact uploaded again beside its provenance: the older upload's record stays pending,
    // and status follows the version it was asked about, not the key's newest.
    expect((await sign(file)).code).toBe(0);
    const again = await vouch(['upload', file, '-a', `${file}.sigstore.json`, '--prefix', prefix, '--wait'], {
      env,
    });
    expect(again.code).toBe(0);
    const latest = await vouch(['status', `s3://vouch-staging/${prefix}app.tar.gz`], { env });
    expect(latest.code).toBe(0);
    expect(latest.stdout).toContain('PROMOTED');
  });

  it('status --pending lists what waits, with its first reason', async () => {
    const { file, prefix } = build('waiting.bin');
    expect((await vouch(['upload', file, '--prefix', prefix], { env })).code).toBe(0);
    await gate.settle();
    const run = await vouch(['status', '--pending'], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^PENDING +${prefix}waiting\\.bin {2}MISSING_ATTESTATION: .*; rejected at .* unless attestations arrive$`,
        'm',
      ),
    );
  });

  it('status sha256:… shows the decisions and the attestations indexed for the digest', async () => {
    const { file, prefix } = build();
    expect((await sign(file)).code).toBe(0);
    expect(
      (await vouch(['upload', file, '-a', `${file}.sigstore.json`, '--prefix', prefix, '--wait'], { env }))
        .code,
    ).toBe(0);
    const digest = /PROMOTED {2}\S+ {2}(sha256:[0-9a-f]{64})/.exec(
      (await vouch(['status', `${prefix}app.tar.gz`], { env })).stdout,
    )?.[1];
    expect(digest).toBeDefined();
    const run = await vouch(['status', digest as string], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`attestations indexed for ${digest}:`);
    expect(run.stdout).toMatch(new RegExp(`^ {2}${prefix}app\\.tar\\.gz\\.sigstore\\.json {2}version `, 'm'));
  });
});

describe('vouch upload loses nothing', () => {
  it('stores two attestations with one suffix under two keys, and a file given twice once', async () => {
    const { dir, file, prefix } = build();
    expect((await sign(file)).code).toBe(0);
    const sbom = join(dir, 'sbom.sigstore.json');
    expect(
      (await vouch(['sign', file, '-o', sbom, '--builder-id', 'https://ci.example/other'], { env })).code,
    ).toBe(0);
    const run = await vouch(
      [
        'upload',
        file,
        '-a',
        `${file}.sigstore.json`,
        '-a',
        sbom,
        '-a',
        `${file}.sigstore.json`,
        '--prefix',
        prefix,
        '--wait',
      ],
      { env },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${file}.sigstore.json: the same bytes as another attestation; sent once`);
    const keys = await stagingKeys(prefix);
    expect(keys).toHaveLength(3);
    expect(keys).toContain(`${prefix}app.tar.gz`);
    expect(keys).toContain(`${prefix}app.tar.gz.sigstore.json`);
    expect(keys.filter((key) => /^.*app\.tar\.gz\.[0-9a-f]{16}\.sigstore\.json$/.test(key))).toHaveLength(1);
  });

  it.each([
    [
      'an attestation that is not one',
      (dir: string) => ['-a', write(dir, 'junk.sigstore.json', '{"not": "a bundle"}')],
      /is not an attestation the verifier can read/,
    ],
    [
      'an attestation with no known suffix',
      (dir: string) => ['-a', write(dir, 'provenance.json', '{}')],
      /must end in \.intoto\.jsonl, \.sigstore\.json/,
    ],
    [
      'an attestation that does not exist',
      (dir: string) => ['-a', join(dir, 'missing.sigstore.json')],
      /cannot read attestation/,
    ],
    [
      'a prefix the verifier would refuse',
      () => ['--prefix', 'releases/../etc/'],
      /has an empty, "\." or "\.\." segment; the verifier would refuse it/,
    ],
    [
      '--wait without a records table',
      () => ['--wait'],
      /--wait reads the decision from \$VOUCH_RECORDS_TABLE/,
    ],
  ])('refuses %s before sending a byte, exit 2', async (_what, extra, message) => {
    const { dir, file, prefix } = build();
    expect((await sign(file)).code).toBe(0);
    const args = ['upload', file, '-a', `${file}.sigstore.json`, '--prefix', prefix, ...extra(dir)];
    const run = await vouch(args, {
      env: _what.startsWith('--wait') ? { ...env, VOUCH_RECORDS_TABLE: '' } : env,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(await stagingKeys(prefix)).toEqual([]);
  });

  it('refuses an artifact whose name says attestation, which the verifier would never verify', async () => {
    const { dir, prefix } = build();
    const named = write(dir, 'notes.sigstore.json', 'an artifact, really');
    const run = await vouch(['upload', named, '--prefix', prefix], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/a name ending in \.sigstore\.json is read as an attestation/);
    expect(await stagingKeys(prefix)).toEqual([]);
  });
});

describe('vouch fetch -o -', () => {
  it('writes the verified bytes to standard output, and the verdict to standard error', async () => {
    const { file, prefix } = build();
    expect((await sign(file)).code).toBe(0);
    expect(
      (await vouch(['upload', file, '-a', `${file}.sigstore.json`, '--prefix', prefix, '--wait'], { env }))
        .code,
    ).toBe(0);
    const run = await vouch(['fetch', `s3://vouch-deployment/${prefix}app.tar.gz`, '-o', '-'], { env });
    expect(run.code).toBe(0);
    expect(run.stdoutBytes.equals(readFileSync(file))).toBe(true);
    expect(run.stderr).toMatch(
      /^VERIFIED {2}s3:\/\/vouch-deployment\/\S+ sha256:[0-9a-f]{64} → standard output$/m,
    );
  });

  it('writes nothing to standard output when refused', async () => {
    const { dir, prefix } = build();
    const run = await vouch(['fetch', `s3://vouch-deployment/${prefix}missing.tar.gz`, '-o', '-'], { env });
    expect(run.code).toBe(1);
    expect(run.stdoutBytes.length).toBe(0);
    expect(run.stderr).toMatch(/does not exist in the deployment bucket .*nothing written/);
    const json = await vouch(['fetch', `s3://vouch-deployment/${prefix}x`, '-o', '-', '--json'], { env });
    expect(json.code).toBe(2);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

describe('vouch keys and vouch sign', () => {
  it('one variable names the signing alias: the old one is refused, not silently ignored', async () => {
    const { file } = build();
    const run = await vouch(['sign', file, '--builder-id', 'https://ci.example'], {
      env: { ...env, VOUCH_SIGNING_KEY: 'alias/something-else' },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/VOUCH_SIGNING_KEY is no longer read: set VOUCH_SIGNING_KEY_ALIAS/);
    expect(existsSync(`${file}.sigstore.json`)).toBe(false);
  });

  it('revoke --effective now replaces the active key at once: the revoked one is disabled and refused, the alias signs with its replacement', async () => {
    const current = (await gate.registry.list()).find(
      (key) => key.status === 'active' && key.pipeline === 'app',
    )?.keyId as string;
    const before = Date.now();
    const revoked = await vouch(['keys', 'revoke', current, '--effective', 'now', '--reason', 'test'], {
      env,
    });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`revoked ${current}`));
    const record = await gate.registry.get(current);
    expect(Date.parse(record?.revokedAt as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(record?.revokedAt as string)).toBeLessThanOrEqual(Date.now());
    expect(record?.disabledAt).toBeDefined();

    // Named outright, the revoked key no longer signs (KMS refuses it): nothing is written.
    const { file } = build();
    const refused = await vouch(['sign', file, '--key', current, '--builder-id', 'https://ci.example'], {
      env,
    });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/the KMS key is disabled/);
    expect(existsSync(`${file}.sigstore.json`)).toBe(false);
    // Through the pipeline's alias, its replacement signs.
    expect((await sign(file)).code).toBe(0);
    const bundle = JSON.parse(readFileSync(`${file}.sigstore.json`, 'utf8'));
    expect(bundle.verificationMaterial.publicKey.hint).not.toBe(current);
    expect((await gate.registry.get(bundle.verificationMaterial.publicKey.hint))?.status).toBe('active');
  });

  it('sign refuses a verify-only (retiring) key named outright', async () => {
    const active = (await gate.registry.list()).find(
      (key) => key.status === 'active' && key.pipeline === 'app',
    );
    expect((await vouch(['keys', 'rotate', '--force'], { env })).code).toBe(0);
    const retiring = await gate.registry.get(active?.keyId as string);
    expect(retiring?.status).toBe('retiring');
    if (!retiring) return;
    const { file } = build();
    const run = await vouch(['sign', file, '--key', retiring.keyId, '--builder-id', 'https://ci.example'], {
      env,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/is verify-only since its rotation/);
  });
});

function write(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
