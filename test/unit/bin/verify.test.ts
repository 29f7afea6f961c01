import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStatement, digestFile, signStatement } from '#core/index.ts';
import {
  FIXTURE_ARTIFACT,
  FIXTURE_BUNDLES,
  FIXTURE_IDENTITY,
  FIXTURE_ISSUER,
  FIXTURE_SHA512,
  FIXTURES_AVAILABLE,
  fixtureJson,
  SIGSTORE_JS,
} from '../../helpers/fixtures.ts';
import { testKey } from '../../helpers/keys.ts';
import { vouch as run } from './binary.ts';

/** Tests that read ../shared/fixtures; without it they skip (see test/helpers/fixtures.ts). */
const describeFixtures = describe.skipIf(!FIXTURES_AVAILABLE);
const itFixtures = it.skipIf(!FIXTURES_AVAILABLE);

/** The built CLI in a child process, with an empty environment. */
const vouch = (...args: string[]) => run(args);

const keyless = ['--certificate-identity', FIXTURE_IDENTITY, '--certificate-oidc-issuer', FIXTURE_ISSUER];
const dir = mkdtempSync(join(tmpdir(), 'vouch-cli-'));
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('vouch verify', () => {
  describeFixtures.each(FIXTURE_BUNDLES)('with %s', (bundle) => {
    it('exits 0 for the right identity and issuer', async () => {
      const { code, stdout } = await vouch(
        'verify',
        FIXTURE_ARTIFACT,
        '--bundle',
        `${SIGSTORE_JS}${bundle}`,
        ...keyless,
      );
      expect(stdout).toMatch(/^ACCEPTED/);
      expect(code).toBe(0);
    });

    it('exits 1 for another identity', async () => {
      const { code } = await vouch(
        'verify',
        FIXTURE_ARTIFACT,
        '--bundle',
        `${SIGSTORE_JS}${bundle}`,
        '--certificate-identity',
        'someone@example.com',
        '--certificate-oidc-issuer',
        FIXTURE_ISSUER,
      );
      expect(code).toBe(1);
    });

    it('exits 1 for a tampered copy, with the reason in --json', async () => {
      const tampered = fixtureJson(bundle);
      const sig = Buffer.from(tampered.dsseEnvelope.signatures[0].sig, 'base64');
      sig[10] = (sig[10] ?? 0) ^ 0xff;
      tampered.dsseEnvelope.signatures[0].sig = sig.toString('base64');
      const file = write(`tampered-${bundle}`, JSON.stringify(tampered));
      const { code, stdout } = await vouch(
        'verify',
        FIXTURE_ARTIFACT,
        '--bundle',
        file,
        ...keyless,
        '--json',
      );
      expect(code).toBe(1);
      const decision = JSON.parse(stdout);
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r: { code: string }) => r.code)).toEqual(
        expect.arrayContaining([expect.stringMatching(/SIGNATURE_INVALID|TLOG_INVALID/)]),
      );
    });
  });

  itFixtures('accepts the artifact given as a digest', async () => {
    const { code } = await vouch(
      'verify',
      `sha512:${FIXTURE_SHA512}`,
      '-a',
      `${SIGSTORE_JS}bundleV03-intoto.sigstore`,
      ...keyless,
    );
    expect(code).toBe(0);
  });

  itFixtures('exits 1 for another artifact (SUBJECT_MISMATCH)', async () => {
    const other = write('other.tgz', 'not sigstore');
    const { code, stdout } = await vouch(
      'verify',
      other,
      '-a',
      `${SIGSTORE_JS}bundleV03-intoto.sigstore`,
      ...keyless,
      '--json',
    );
    expect(code).toBe(1);
    expect(stdout).toContain('SUBJECT_MISMATCH');
  });

  itFixtures('exits 1 when --type asks for a predicate the bundle does not carry', async () => {
    const { code } = await vouch(
      'verify',
      FIXTURE_ARTIFACT,
      '-a',
      `${SIGSTORE_JS}bundleV03-intoto.sigstore`,
      ...keyless,
      '--type',
      'slsaprovenance1',
    );
    expect(code).toBe(1);
  });

  itFixtures('exits 1 for a malformed attestation file (it was asked about)', async () => {
    const bad = write('bad.sigstore.json', '{"mediaType": ');
    const { code, stdout } = await vouch('verify', FIXTURE_ARTIFACT, '-a', bad, ...keyless, '--json');
    expect(code).toBe(1);
    expect(stdout).toContain('PARSE_ERROR');
  });

  describe('with --key', () => {
    it('accepts a DSSE bundle signed by that key and rejects one signed by another', async () => {
      const key = testKey();
      const artifact = write('app.bin', 'app bytes');
      const { digests } = await digestFile(artifact);
      const statement = createStatement([{ name: 'app.bin', digests }], 'https://slsa.dev/provenance/v1', {});
      const good = write('good.sigstore.json', JSON.stringify(await signStatement(statement, key.sign)));
      const forged = write(
        'forged.sigstore.json',
        JSON.stringify(await signStatement(statement, testKey().sign)),
      );
      const pem = write('key.pem', key.publicKeyPem);
      expect(
        (await vouch('verify', artifact, '-a', good, '--key', pem, '--type', 'slsaprovenance1')).code,
      ).toBe(0);
      const rejected = await vouch('verify', artifact, '-a', forged, '--key', pem, '--json');
      expect(rejected.code).toBe(1);
      expect(rejected.stdout).toContain('SIGNATURE_INVALID');
    });
  });

  describe('with an .intoto.jsonl collection', () => {
    const key = testKey();
    const lineFor = async (name: string, bytes: string) => {
      const { digests } = await digestFile(write(name, bytes));
      const statement = createStatement([{ name, digests }], 'https://slsa.dev/provenance/v1', {});
      return JSON.stringify((await signStatement(statement, key.sign)).dsseEnvelope);
    };

    it('skips lines about other artifacts and accepts on the line about this one', async () => {
      const artifact = write('one.bin', 'one');
      const jsonl = write(
        'all.intoto.jsonl',
        `${await lineFor('two.bin', 'two')}\n${await lineFor('one.bin', 'one')}\n${await lineFor('three.bin', 'three')}\n`,
      );
      const pem = write('jsonl-key.pem', key.publicKeyPem);
      const { code, stdout } = await vouch('verify', artifact, '-a', jsonl, '--key', pem, '--json');
      expect(JSON.parse(stdout).reasons).toEqual([]);
      expect(code).toBe(0);
    });

    it('still rejects when a line about this artifact fails', async () => {
      const artifact = write('four.bin', 'four');
      const forged = JSON.parse(await lineFor('four.bin', 'four'));
      forged.signatures[0].sig = Buffer.alloc(64, 1).toString('base64');
      const jsonl = write(
        'forged.intoto.jsonl',
        `${await lineFor('four.bin', 'four')}\n${JSON.stringify(forged)}\n`,
      );
      const pem = write('jsonl-key-2.pem', key.publicKeyPem);
      const { code, stdout } = await vouch('verify', artifact, '-a', jsonl, '--key', pem, '--json');
      expect(code).toBe(1);
      expect(JSON.parse(stdout).reasons.map((r: { code: string }) => r.code)).toContain('SIGNATURE_INVALID');
    });
  });

  describeFixtures('with --policy', () => {
    it('evaluates the policy for --path and records its digest', async () => {
      const policy = write(
        'policy.yaml',
        `version: 1\nrules:\n  - name: npm\n    match: ["packages/**"]\n    require:\n      - type: https://github.com/npm/attestation/tree/main/specs/publish/v0.1\n        signers:\n          - issuer: ${FIXTURE_ISSUER}\n            identity: ${FIXTURE_IDENTITY}\n`,
      );
      const args = [
        'verify',
        FIXTURE_ARTIFACT,
        '-a',
        `${SIGSTORE_JS}bundleV02-dsse.sigstore`,
        '--policy',
        policy,
        '--json',
      ];
      const accepted = await vouch(...args, '--path', 'packages/sigstore-1.0.0.tgz');
      expect(accepted.code).toBe(0);
      expect(JSON.parse(accepted.stdout).policyDigest).toMatch(/^sha256:/);
      const unmatched = await vouch(...args, '--path', 'elsewhere/sigstore-1.0.0.tgz');
      expect(unmatched.code).toBe(1);
      expect(unmatched.stdout).toContain('NO_MATCHING_RULE');
    });
  });

  describeFixtures('usage errors exit 2', () => {
    it.each([
      ['no artifact', ['verify', '-a', 'x', ...keyless]],
      ['no attestation', ['verify', FIXTURE_ARTIFACT, ...keyless]],
      ['no trust', ['verify', FIXTURE_ARTIFACT, '-a', `${SIGSTORE_JS}bundleV02-dsse.sigstore`]],
      [
        'identity without issuer',
        [
          'verify',
          FIXTURE_ARTIFACT,
          '-a',
          `${SIGSTORE_JS}bundleV02-dsse.sigstore`,
          '--certificate-identity',
          'x',
        ],
      ],
      [
        'a missing artifact',
        ['verify', join(dir, 'missing'), '-a', `${SIGSTORE_JS}bundleV02-dsse.sigstore`, ...keyless],
      ],
      ['a missing attestation', ['verify', FIXTURE_ARTIFACT, '-a', join(dir, 'missing'), ...keyless]],
      ['a bad digest', ['verify', 'sha256:abc', '-a', `${SIGSTORE_JS}bundleV02-dsse.sigstore`, ...keyless]],
      ['an unknown flag', ['verify', FIXTURE_ARTIFACT, '--frobnicate']],
      ['an unknown command', ['frobnicate']],
    ])('%s', async (_what, args) => {
      const { code, stderr } = await vouch(...args);
      expect(code).toBe(2);
      expect(stderr).not.toBe('');
    });
  });
});
