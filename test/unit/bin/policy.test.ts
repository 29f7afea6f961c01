import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStatement, signStatement } from '#core/index.ts';
import { startTestGate, type TestGate } from '../../helpers/gate.ts';
import { testKey } from '../../helpers/keys.ts';
import { POLICY_TEXT } from '../../helpers/policy-cases.ts';
import { vouch } from './binary.ts';

const root = mkdtempSync(join(tmpdir(), 'vouch-cli-policy-'));

describe('vouch policy test DIR', () => {
  const ci = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/ci');
  const stranger = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/stranger');

  async function casesDir(expectTampered: string) {
    const dir = mkdtempSync(join(root, 'cases-'));
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys/ci.pub'), ci.publicKeyPem);
    writeFileSync(
      join(dir, 'policy.yaml'),
      `version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [{ registry: true }]
        conditions: ["predicate.builder.id == 'https://ci.example/builder'"]
`,
    );
    const artifact = Buffer.from('the release');
    writeFileSync(join(dir, 'app.tgz'), artifact);
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256').update(artifact).digest('hex');
    const attest = async (predicate: Record<string, unknown>, key = ci) =>
      JSON.stringify(
        await signStatement(
          createStatement(
            [{ name: 'app.tgz', digests: { sha256 } }],
            'https://slsa.dev/provenance/v1',
            predicate,
          ),
          key.sign,
        ),
      );
    writeFileSync(join(dir, 'good.json'), await attest({ builder: { id: 'https://ci.example/builder' } }));
    writeFileSync(join(dir, 'laptop.json'), await attest({ builder: { id: 'https://laptop.example' } }));
    writeFileSync(
      join(dir, 'stranger.json'),
      await attest({ builder: { id: 'https://ci.example/builder' } }, stranger),
    );
    writeFileSync(
      join(dir, 'vouch-test.yaml'),
      `keys: [{ pem: keys/ci.pub, keyId: "${ci.keyId}" }]
now: "2026-06-01T00:00:00Z"
cases:
  - { name: built by CI, artifact: app.tgz, path: releases/app.tgz, attestations: [good.json], expect: verified }
  - { name: built on a laptop, artifact: app.tgz, path: releases/app.tgz, attestations: [laptop.json], expect: rejected, reasons: [CONDITION_FAILED] }
  - { name: signed by a stranger, artifact: app.tgz, path: releases/app.tgz, attestations: [stranger.json], expect: ${expectTampered} }
`,
    );
    return dir;
  }

  it('passes when every verdict is the one expected', async () => {
    const run = await vouch(['policy', 'test', await casesDir('pending')]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('PASS  built on a laptop: expected rejected, got rejected');
    expect(run.stdout).toContain('3 passed, 0 failed');
    expect(run.code).toBe(0);
  });

  it('fails (exit 1) naming the case whose verdict differs', async () => {
    const run = await vouch(['policy', 'test', await casesDir('verified')]);
    expect(run.stdout).toContain('FAIL  signed by a stranger: expected verified, got pending');
    expect(run.stdout).toContain('2 passed, 1 failed');
    expect(run.code).toBe(1);
  });

  it('is a usage error (exit 2) without a test file', async () => {
    const run = await vouch(['policy', 'test', mkdtempSync(join(root, 'empty-'))]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/vouch-test\.yaml/);
  });
});

describe('vouch policy sign | push | show (local stack)', () => {
  let gate: TestGate;
  let env: Record<string, string>;
  beforeAll(async () => {
    gate = await startTestGate();
    env = { ...gate.env };
  });
  afterAll(async () => {
    await gate?.close();
  });

  it('signs the next version, pushes it, shows it; refuses the same version again and a bundle from another key', async () => {
    const file = join(root, 'policy.yaml');
    writeFileSync(file, POLICY_TEXT);
    expect((await vouch(['policy', 'show'], { env })).stdout).toContain('holds no policy version');

    const signed = await vouch(['policy', 'sign', file], { env });
    expect(signed.stderr).toBe('');
    expect(signed.stdout).toMatch(/signed .* as policy version 1 with arn:/);
    const bundle = `${file}.v1.policy.json`;
    const pushed = await vouch(['policy', 'push', bundle], { env });
    expect(pushed.stdout).toMatch(/pushed policy version 1 \(sha256:[0-9a-f]{64}\)/);
    expect(pushed.code).toBe(0);

    const shown = await vouch(['policy', 'show'], { env });
    expect(shown.stdout).toContain('policy version 1');
    expect(shown.stdout).toContain('name: releases');

    const again = await vouch(['policy', 'push', bundle], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/REFUSED .* is version 1; the store holds version 1/);

    const other = await vouch(
      [
        'policy',
        'sign',
        file,
        '--version',
        '2',
        '--key',
        'alias/vouch-signing/app',
        '-o',
        join(root, 'other.json'),
      ],
      { env },
    );
    expect(other.code).toBe(0);
    const refused = await vouch(['policy', 'push', join(root, 'other.json')], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/REFUSED .*not signed by the policy key/);
    expect(JSON.parse(readFileSync(bundle, 'utf8')).dsseEnvelope.payloadType).toBe(
      'application/vnd.in-toto+json',
    );
  });

  it('refuses to sign a file that is not a valid policy (exit 2)', async () => {
    const file = join(root, 'bad.yaml');
    writeFileSync(file, 'version: 1\nrules: []\n');
    const run = await vouch(['policy', 'sign', file, '--version', '9'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/rules/);
  });
});
