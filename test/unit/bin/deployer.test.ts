import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_POLICY, startTestGate, type TestGate } from '../../helpers/gate.ts';
import { testKey } from '../../helpers/keys.ts';
import { vouch } from './binary.ts';

/**
 * `vouch fetch` and `vouch keys list`, the built binary against the whole local gate: every exit status
 * fetch documents, audit-mode promotions with and without --allow-audit, and what keys list shows
 * through a rotation and a revocation. (`vouch upload`, `status`, `keys rotate|revoke` and `sign` are
 * in pipeline.test.ts.)
 */
let gate: TestGate;
let env: Record<string, string>;
const root = mkdtempSync(join(tmpdir(), 'vouch-cli-deployer-'));
let count = 0;

beforeAll(async () => {
  // The example policy, and a rule in audit mode: what fails under trial/ is promoted, flagged, FAILED.
  const policyPath = join(root, 'policy.yaml');
  writeFileSync(
    policyPath,
    `${readFileSync(EXAMPLE_POLICY, 'utf8')}
  - name: trial
    match: ["trial/**"]
    mode: audit
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [pipeline]
`,
  );
  gate = await startTestGate({ policyPath });
  env = { ...gate.env };
});
afterAll(async () => {
  await gate?.close();
});

function build(name = 'app.tar.gz') {
  const dir = join(root, `build-${++count}`);
  mkdirSync(dir);
  const file = join(dir, name);
  writeFileSync(file, randomBytes(2048));
  return { dir, file, name, run: `run-${count}` };
}

/** Signs and uploads a build under `prefix`, and waits for its verdict. */
async function promoted(prefix: string, options: { sign?: boolean } = {}) {
  const b = build();
  const files = [b.file];
  if (options.sign !== false) {
    const signed = await vouch(['sign', b.file, '--builder-id', 'https://ci.example/builder'], { env });
    expect(signed.code, signed.stderr).toBe(0);
    files.push('-a', `${b.file}.sigstore.json`);
  }
  const upload = await vouch(['upload', ...files, '--prefix', `${prefix}${b.run}/`, '--wait=60s'], { env });
  expect(upload.stdout, upload.stderr).toMatch(/^PROMOTED/m);
  return { ...b, key: `${prefix}${b.run}/${b.name}`, upload };
}

const fetch = (key: string, output: string, ...extra: string[]) =>
  vouch(['fetch', `s3://${gate.stack.names.deploymentBucket}/${key}`, '-o', output, ...extra], { env });

describe('vouch fetch: exit status and what it writes', () => {
  it('exits 0 for a build promoted PASSED, writing exactly its bytes', async () => {
    const b = await promoted('releases/');
    const output = join(b.dir, 'fetched');
    const run = await fetch(b.key, output);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^VERIFIED {2}s3:\/\/\S+ sha256:[0-9a-f]{64} → /m);
    expect(readFileSync(output).equals(readFileSync(b.file))).toBe(true);
  });

  it('exits 1 for an audit-mode promotion (a FAILED summary) and writes nothing; 0 with --allow-audit', async () => {
    const b = await promoted('trial/', { sign: false });
    expect(b.upload.stdout).toMatch(/^PROMOTED \(audit mode: failed verification\)/m);
    const output = join(b.dir, 'fetched');

    const refused = await fetch(b.key, output);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /^REFUSED {2}\S+ sha256:[0-9a-f]{64} \(verification summary: FAILED\); nothing written$/m,
    );
    expect(refused.stdout).toMatch(/^ {2}VERIFICATION_FAILED: .*refused without --allow-audit/m);
    expect(existsSync(output)).toBe(false);
    const json = await fetch(b.key, output, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      verificationResult: 'FAILED',
      problems: [{ code: 'VERIFICATION_FAILED' }],
    });
    expect(existsSync(output)).toBe(false);

    const allowed = await fetch(b.key, output, '--allow-audit');
    expect(allowed.code, allowed.stdout).toBe(0);
    expect(readFileSync(output).equals(readFileSync(b.file))).toBe(true);
  });

  it('--allow-audit does not accept what the summary does not name: other bytes are refused, exit 1', async () => {
    const b = await promoted('releases/');
    await gate.store.client.send(
      new PutObjectCommand({
        Bucket: gate.stack.names.deploymentBucket,
        Key: b.key,
        Body: 'swapped after promotion',
      }),
    );
    const output = join(b.dir, 'fetched');
    for (const extra of [[], ['--allow-audit']]) {
      const run = await fetch(b.key, output, '--json', ...extra);
      expect(run.code).toBe(1);
      const result = JSON.parse(run.stdout) as { ok: boolean; decision: { reasons: { code: string }[] } };
      expect(result.ok).toBe(false);
      expect(result.decision.reasons.map((r) => r.code)).toContain('SUBJECT_MISMATCH');
      expect(existsSync(output)).toBe(false);
    }
  });

  it('exits 1 for a summary the given VSA key did not sign (--key PEM)', async () => {
    const b = await promoted('releases/');
    const pem = join(b.dir, 'other-vsa.pem');
    writeFileSync(pem, testKey().publicKeyPem);
    const output = join(b.dir, 'fetched');
    const run = await fetch(b.key, output, '--key', pem, '--json');
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as { ok: boolean; decision: { reasons: { code: string }[] } };
    expect(result.ok).toBe(false);
    expect(result.decision.reasons.map((r) => r.code)).toEqual(['SIGNATURE_INVALID', 'MISSING_ATTESTATION']);
    expect(existsSync(output)).toBe(false);
  });

  it('exits 2 for usage mistakes, before any request', async () => {
    const noOutput = await vouch(['fetch', 's3://vouch-deployment/releases/a'], { env });
    expect(noOutput.code).toBe(2);
    expect(noOutput.stderr).toMatch(/--output FILE .* is required/);
    const notS3 = await vouch(['fetch', 'https://example.com/a', '-o', 'x'], { env });
    expect(notS3.code).toBe(2);
    expect(notS3.stderr).toMatch(/expected one s3:\/\/BUCKET\/KEY/);
    const unreadableKey = await vouch(['fetch', 's3://b/k', '-o', 'x', '--key', join(root, 'missing.pem')], {
      env,
    });
    expect(unreadableKey.code).toBe(2);
    expect(unreadableKey.stderr).toMatch(/cannot read key/);
  });
});

describe('vouch keys list', () => {
  type Listed = {
    keyId: string;
    status: string;
    alias: string;
    pipeline?: string;
    purpose?: string;
    revokedAt?: string;
    revocationReason?: string;
  };
  const listed = async () => {
    const run = await vouch(['keys', 'list', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as Listed[];
  };

  it('shows each key with its status and window, through a rotation and a revocation', async () => {
    const before = await listed();
    expect(before).toEqual(JSON.parse(JSON.stringify(await gate.registry.list())));
    // One signing line per pipeline and the summaries' (VSA) line: `keys rotate` rotates the app's.
    const active = before.filter((key) => key.status === 'active' && key.pipeline === 'app');
    expect(active).toHaveLength(1);
    const first = active[0] as Listed;
    const text = await vouch(['keys', 'list'], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`^active {3}${first.keyId} {2}alias/\\S+ {2}pipeline app .*\\S+ → \\S+`, 'm'),
    );
    const onlyApp = await vouch(['keys', 'list', '--pipeline', 'app', '--json'], { env });
    const appKeys = JSON.parse(onlyApp.stdout) as Listed[];
    expect(appKeys.length).toBeGreaterThan(0);
    expect(appKeys.every((key) => key.pipeline === 'app')).toBe(true);
    expect(appKeys.length).toBeLessThan(before.length);

    expect((await vouch(['keys', 'rotate', '--force'], { env })).code).toBe(0);
    const rotated = await listed();
    expect(rotated.find((key) => key.keyId === first.keyId)?.status).toBe('retiring');
    const second = rotated.find((key) => key.status === 'active' && key.pipeline === 'app') as Listed;
    expect(second.keyId).not.toBe(first.keyId);

    const revoke = await vouch(['keys', 'revoke', first.keyId, '--effective', 'now', '--reason', 'leaked'], {
      env,
    });
    expect(revoke.code, revoke.stderr).toBe(0);
    expect((await listed()).find((key) => key.keyId === first.keyId)).toMatchObject({
      status: 'revoked',
      revocationReason: 'leaked',
    });
    const after = await vouch(['keys', 'list'], { env });
    expect(after.stdout).toMatch(
      new RegExp(`^revoked {2}${first.keyId} .* revoked from \\S+( by .+)?: leaked$`, 'm'),
    );
    expect(after.stdout).toMatch(new RegExp(`^active {3}${second.keyId} `, 'm'));
  });

  it('exits 2 for an unknown action, suggesting the nearest', async () => {
    const run = await vouch(['keys', 'lst'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown action "lst" \(did you mean list\?\)/);
  });
});
