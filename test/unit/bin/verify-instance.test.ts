import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACT,
  ARTIFACT_DIGESTS,
  flipBase64,
  IDENTITY,
  ISSUER,
  statementAbout,
  tampered,
} from '../../helpers/decide.ts';
import { GITHUB_LIKE, keylessBundle, testInstance } from '../../helpers/sigstore/index.ts';
import { vouch as run } from './binary.ts';

/**
 * `vouch verify` on bundles of the test instance, with its trusted root given by --trusted-root: the
 * same paths as the sigstore-js fixture tests in verify.test.ts, in a clone without ../shared/fixtures.
 */
/** The built CLI in a child process, with an empty environment. */
const vouch = (...args: string[]) => run(args);

const dir = mkdtempSync(join(tmpdir(), 'vouch-cli-instance-'));
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const root = write('trusted_root.json', JSON.stringify(testInstance().trustedRoot));
const artifact = write('app.tar.gz', ARTIFACT);
const trust = ['--trusted-root', root];
const keyless = [...trust, '--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER];
const statement = { statement: statementAbout() };

const SHAPES = [
  ['v0.1', 'dsse'],
  ['v0.1', 'intoto'],
  ['v0.2', 'dsse'],
  ['v0.2', 'intoto'],
  ['v0.3', 'dsse'],
  ['v0.3', 'intoto'],
] as const;

const v03 = keylessBundle({ content: statement });
const v03File = write('v03.sigstore.json', JSON.stringify(v03, null, 2));

describe('vouch verify (test instance, --trusted-root)', () => {
  describe.each(SHAPES)('with a %s bundle logged as %s', (mediaType, kind) => {
    const bundle = keylessBundle({ content: statement, mediaType, tlog: { kind } });
    const file = write(`${mediaType}-${kind}.sigstore`, JSON.stringify(bundle, null, 2));

    it('exits 0 for the right identity and issuer', async () => {
      const { code, stdout } = await vouch('verify', artifact, '--bundle', file, ...keyless);
      expect(stdout).toMatch(/^ACCEPTED/);
      expect(code).toBe(0);
    });

    it('exits 1 for another identity', async () => {
      const { code, stdout } = await vouch(
        'verify',
        artifact,
        '--bundle',
        file,
        ...trust,
        '--certificate-identity',
        'someone@vouch.test',
        '--certificate-oidc-issuer',
        ISSUER,
        '--json',
      );
      expect(code).toBe(1);
      expect(JSON.parse(stdout).reasons.map((r: { code: string }) => r.code)).toContain('SIGNER_NOT_ALLOWED');
    });

    it('exits 1 for a tampered copy, with the reason in --json', async () => {
      const copy = tampered(bundle, (b) => {
        b.dsseEnvelope.signatures[0].sig = flipBase64(b.dsseEnvelope.signatures[0].sig);
      });
      const { code, stdout } = await vouch(
        'verify',
        artifact,
        '--bundle',
        write(`tampered-${mediaType}-${kind}.sigstore`, copy),
        ...keyless,
        '--json',
      );
      expect(code).toBe(1);
      const decision = JSON.parse(stdout);
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r: { code: string }) => r.code)).toContain('TLOG_INVALID');
    });
  });

  it('accepts the artifact given as a digest', async () => {
    const { code } = await vouch('verify', `sha256:${ARTIFACT_DIGESTS.sha256}`, '-a', v03File, ...keyless);
    expect(code).toBe(0);
  });

  it('exits 1 for another artifact (SUBJECT_MISMATCH)', async () => {
    const other = write('other.tgz', 'not the artifact');
    const { code, stdout } = await vouch('verify', other, '-a', v03File, ...keyless, '--json');
    expect(code).toBe(1);
    expect(stdout).toContain('SUBJECT_MISMATCH');
  });

  it('exits 1 when --type asks for a predicate the bundle does not carry', async () => {
    const spdx = write(
      'spdx.sigstore.json',
      JSON.stringify(
        keylessBundle({ content: { statement: statementAbout(ARTIFACT, 'https://spdx.dev/Document') } }),
      ),
    );
    expect((await vouch('verify', artifact, '-a', spdx, ...keyless, '--type', 'spdxjson')).code).toBe(0);
    expect((await vouch('verify', artifact, '-a', spdx, ...keyless, '--type', 'slsaprovenance1')).code).toBe(
      1,
    );
  });

  it('exits 1 for a malformed attestation file (it was asked about)', async () => {
    const bad = write('bad.sigstore.json', '{"mediaType": ');
    const { code, stdout } = await vouch('verify', artifact, '-a', bad, ...keyless, '--json');
    expect(code).toBe(1);
    expect(stdout).toContain('PARSE_ERROR');
  });

  it('exits 1 against the default (public-good) root, which does not trust the test CA', async () => {
    const { code, stdout } = await vouch(
      'verify',
      artifact,
      '-a',
      v03File,
      '--certificate-identity',
      IDENTITY,
      '--certificate-oidc-issuer',
      ISSUER,
      '--json',
    );
    expect(code).toBe(1);
    expect(stdout).toContain('CERTIFICATE_INVALID');
  });

  describe('with --policy', () => {
    it('evaluates the policy for --path and records its digest', async () => {
      const policy = write(
        'policy.yaml',
        `version: 1\nrules:\n  - name: releases\n    match: ["releases/**"]\n    require:\n      - type: https://slsa.dev/provenance/v1\n        signers:\n          - issuer: ${ISSUER}\n            identity: ${IDENTITY}\n`,
      );
      const args = ['verify', artifact, '-a', v03File, ...trust, '--policy', policy, '--json'];
      const accepted = await vouch(...args, '--path', 'releases/app.tar.gz');
      expect(accepted.code).toBe(0);
      expect(JSON.parse(accepted.stdout).policyDigest).toMatch(/^sha256:/);
      const unmatched = await vouch(...args, '--path', 'elsewhere/app.tar.gz');
      expect(unmatched.code).toBe(1);
      expect(unmatched.stdout).toContain('NO_MATCHING_RULE');
    });
  });

  describe('usage errors exit 2', () => {
    it.each([
      ['no artifact', ['verify', '-a', v03File, ...keyless]],
      ['no attestation', ['verify', artifact, ...keyless]],
      ['no trust', ['verify', artifact, '-a', v03File]],
      ['identity without issuer', ['verify', artifact, '-a', v03File, '--certificate-identity', IDENTITY]],
      ['a missing artifact', ['verify', join(dir, 'missing'), '-a', v03File, ...keyless]],
      ['a missing attestation', ['verify', artifact, '-a', join(dir, 'missing'), ...keyless]],
      [
        'a missing trusted root',
        [
          'verify',
          artifact,
          '-a',
          v03File,
          '--trusted-root',
          join(dir, 'missing'),
          '--certificate-identity',
          IDENTITY,
          '--certificate-oidc-issuer',
          ISSUER,
        ],
      ],
      ['a bad digest', ['verify', 'sha256:abc', '-a', v03File, ...keyless]],
      ['an unknown flag', ['verify', artifact, '--frobnicate']],
    ])('%s', async (_what, args) => {
      const { code, stderr } = await vouch(...args);
      expect(code).toBe(2);
      expect(stderr).not.toBe('');
    });
  });
});

describe('vouch verify with several instances (--trusted-root NAME=FILE, --instance)', () => {
  const github = testInstance(GITHUB_LIKE);
  const githubRoot = write('github.trusted_root.json', JSON.stringify(github.trustedRoot));
  const bundle = write(
    'github.sigstore.json',
    JSON.stringify(keylessBundle({ instance: github, content: statement })),
  );
  const identity = ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER];

  it('exits 0 for a signer of that instance, recording the root that verified it', async () => {
    const { code, stdout } = await vouch(
      'verify',
      artifact,
      '-a',
      bundle,
      ...trust,
      '--trusted-root',
      `github=${githubRoot}`,
      ...identity,
      '--instance',
      'github',
      '--json',
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).attestations[0].signatures[0].trustRoot).toMatchObject({
      instance: 'github',
      source: 'file',
    });
  });

  it('exits 1 for the same identity on the default instance', async () => {
    const { code } = await vouch(
      'verify',
      artifact,
      '-a',
      bundle,
      ...trust,
      '--trusted-root',
      `github=${githubRoot}`,
      ...identity,
    );
    expect(code).toBe(1);
  });

  it('exits 2 for two roots of one instance', async () => {
    const { code, stderr } = await vouch('verify', artifact, '-a', bundle, ...trust, ...trust, ...identity);
    expect(code).toBe(2);
    expect(stderr).toMatch(/two roots for instance public-good/);
  });
});
