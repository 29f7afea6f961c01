import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createStatement, digestFile, signStatement } from '#core/index.ts';
import { ARTIFACT, IDENTITY, ISSUER, statementAbout } from '../../helpers/decide.ts';
import { testKey } from '../../helpers/keys.ts';
import { keylessBundle, testInstance } from '../../helpers/sigstore/index.ts';
import { VOUCH_BIN, vouch } from './binary.ts';

const dir = mkdtempSync(join(tmpdir(), 'vouch-cli-messages-'));
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const key = testKey();
const pem = write('key.pem', key.publicKeyPem);
const artifact = write('app.bin', 'app bytes');
const other = write('other.bin', 'other bytes');
const { digests } = await digestFile(artifact);
const provenance = createStatement([{ name: 'app.bin', digests }], 'https://slsa.dev/provenance/v1', {});
const bundle = write('app.bin.sigstore.json', JSON.stringify(await signStatement(provenance, key.sign)));

const root = write('trusted_root.json', JSON.stringify(testInstance().trustedRoot));
const keylessFile = write(
  'keyless.sigstore.json',
  JSON.stringify(keylessBundle({ content: { statement: statementAbout() } })),
);
const keylessArtifact = write('app.tar.gz', ARTIFACT);

const lines = (text: string) => text.split('\n').filter((line) => line !== '');

describe('vouch (the built binary)', () => {
  it('--version prints the package version, and nothing on stderr', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    const run = await vouch(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^vouch ${version.replace(/\./g, '\\.')}( \\([0-9a-f]+\\))?\\n$`));
    expect(run.stderr).toBe('');
  });

  it('--help lists every command and the exit codes', async () => {
    const run = await vouch(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['verify', 'sign', 'upload', 'status', 'fetch', 'keys'])
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(run.stdout).toMatch(
      /^exit status:\n {2}0 {2}accepted.*\n {2}1 {2}rejected.*\n {2}2 {2}usage.*\n {2}3 {2}no verdict.*\n {2}4 {2}internal/m,
    );
  });

  it.each(['verify', 'sign', 'upload', 'status', 'fetch', 'keys'])(
    '`vouch %s --help` documents its exit status',
    async (command) => {
      const run = await vouch([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^exit status/m);
    },
  );

  it('is the file package.json names as the `vouch` bin, and runs as npm links it: executed directly', async () => {
    const { bin } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    expect(new URL(`../../../${bin.vouch}`, import.meta.url).pathname).toBe(VOUCH_BIN);
    const { stdout } = await promisify(execFile)(VOUCH_BIN, ['--version'], {
      env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    });
    expect(stdout).toMatch(/^vouch \d+\.\d+\.\d+/);
  });

  it('loads the AWS SDK only for the commands that call AWS: never for `verify`, `--help` or a usage error', () => {
    // What a chunk of the built CLI imports statically (its `import()`s are loaded only when reached).
    const dist = dirname(VOUCH_BIN);
    const loads = (file: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(file)) return seen;
      seen.add(file);
      for (const [, next] of readFileSync(join(dist, file), 'utf8').matchAll(
        /(?:from|import)\s*"\.\/([^"]+)"/g,
      ))
        loads(next as string, seen);
      return seen;
    };
    const chunkOf = (from: string, name: string) =>
      new RegExp(`import\\("\\./(${name}-[A-Z0-9]+\\.mjs)"\\)`).exec(
        readFileSync(join(dist, from), 'utf8'),
      )?.[1];
    const main = chunkOf('vouch.mjs', 'vouch') as string;
    // The SDK's user agent names it in the chunk every client imports.
    const sdk = (file: string) =>
      [...loads(file)].some((f) => readFileSync(join(dist, f), 'utf8').includes('aws-sdk-js'));
    expect(sdk(main)).toBe(false);
    expect(sdk(chunkOf(main, 'verify') as string)).toBe(false);
    expect(sdk(chunkOf(main, 'upload') as string)).toBe(true);
  });

  it('refuses a Node.js older than package.json allows, in one line, exit 2', async () => {
    const { engines } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    expect(engines.node).toBe('>=22.22');
    const as = (version: string) => [
      `--import=data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${version}"})`,
    ];
    const old = await vouch(['--version'], { nodeArgs: as('20.20.2') });
    expect(old.code).toBe(2);
    expect(old.stderr).toBe(
      'vouch: Node.js 22.22 or later is required, this is v20.20.2 (Vouch is tested on Node 24)\n',
    );
    expect((await vouch(['--version'], { nodeArgs: as('22.22.0') })).code).toBe(0);
  });
});

describe('usage mistakes: one line, a suggestion where there is one, exit 2', () => {
  it.each([
    [
      ['verify', artifact, '-a', bundle, '--certificate-identiy', 'x'],
      /unknown option --certificate-identiy \(did you mean --certificate-identity\?\)/,
    ],
    [
      ['verify', artifact, '-a', bundle, '--key', pem, '--jsn'],
      /unknown option --jsn \(did you mean --json\?\)/,
    ],
    [['upload', artifact, '--prefx', 'releases/'], /unknown option --prefx \(did you mean --prefix\?\)/],
    [['stauts', 'x'], /unknown command "stauts" \(did you mean status\?\)/],
    [['keys', 'revok', 'arn'], /unknown action "revok" \(did you mean revoke\?\)/],
    [['verify', artifact, '-a', bundle, '--format', 'yaml'], /--format accepts only json/],
  ])('%j', async (args, message) => {
    const run = await vouch(args);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('refuses --policy with identity flags or --type, which it would otherwise ignore', async () => {
    const policy = write(
      'policy.yaml',
      `version: 1\nrules:\n  - name: all\n    match: ["**"]\n    require:\n      - type: https://slsa.dev/provenance/v1\n        signers: [{ keyId: "${key.keyId}" }]\n`,
    );
    for (const extra of [
      ['--certificate-identity', 'x', '--certificate-oidc-issuer', 'https://x'],
      ['--cert-identity', 'x'],
      ['--type', 'slsaprovenance1'],
    ]) {
      const run = await vouch(['verify', artifact, '-a', bundle, '--key', pem, '--policy', policy, ...extra]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/--policy says whom to trust.*would be ignored/);
    }
    expect((await vouch(['verify', artifact, '-a', bundle, '--key', pem, '--policy', policy])).code).toBe(0);
  });

  it('accepts only known --type names or URIs, suggesting the nearest name', async () => {
    const typo = await vouch(['verify', artifact, '-a', bundle, '--key', pem, '--type', 'slsaprovenace1']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /--type "slsaprovenace1" is neither a URI nor a known name \(did you mean slsaprovenance1\?\)/,
    );
    expect(
      (await vouch(['verify', artifact, '-a', bundle, '--key', pem, '--type', 'slsaprovenance1'])).code,
    ).toBe(0);
    expect(
      (
        await vouch([
          'verify',
          artifact,
          '-a',
          bundle,
          '--key',
          pem,
          '--type',
          'https://slsa.dev/provenance/v1',
        ])
      ).code,
    ).toBe(0);
  });

  it('names the offending policy key and the keys allowed there', async () => {
    const policy = write(
      'typo.yaml',
      'version: 1\nrules:\n  - name: all\n    match: ["**"]\n    require:\n      - type: https://slsa.dev/provenance/v1\n        signers: [{ registry: true }]\n        treshold: 2\n',
    );
    const run = await vouch(['verify', artifact, '-a', bundle, '--key', pem, '--policy', policy]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /\/rules\/0\/require\/0 has an unknown key "treshold"; allowed there: type, signers, threshold/,
    );
  });
});

describe("gh attestation verify's spellings", () => {
  it('--cert-identity, --cert-oidc-issuer, --custom-trusted-root and --format json work as the long names', async () => {
    const gh = await vouch([
      'verify',
      keylessArtifact,
      '-b',
      keylessFile,
      '--custom-trusted-root',
      root,
      '--cert-identity',
      IDENTITY,
      '--cert-oidc-issuer',
      ISSUER,
      '--format',
      'json',
    ]);
    expect(gh.code).toBe(0);
    expect(JSON.parse(gh.stdout).accepted).toBe(true);
    const wrong = await vouch([
      'verify',
      keylessArtifact,
      '-b',
      keylessFile,
      '--custom-trusted-root',
      root,
      '--cert-identity',
      'someone@vouch.test',
      '--cert-oidc-issuer',
      ISSUER,
      '--format=json',
    ]);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).reasons.map((r: { code: string }) => r.code)).toContain(
      'SIGNER_NOT_ALLOWED',
    );
  });

  it('--cert-identity-regex is applied anchored, and shown so', async () => {
    const partial = await vouch([
      'verify',
      keylessArtifact,
      '-b',
      keylessFile,
      '--trusted-root',
      root,
      '--cert-identity-regex',
      'signer',
      '--cert-oidc-issuer',
      ISSUER,
    ]);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toContain('identity matching /^(?:signer)$/');
    const whole = await vouch([
      'verify',
      keylessArtifact,
      '-b',
      keylessFile,
      '--trusted-root',
      root,
      '--cert-identity-regex',
      'signer@.*',
      '--cert-oidc-issuer',
      ISSUER,
    ]);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toContain('trusting identity matching /^(?:signer@.*)$/');
  });
});

describe('what a rejection says', () => {
  it('puts the root cause first: SUBJECT_MISMATCH before MISSING_ATTESTATION', async () => {
    const run = await vouch(['verify', other, '-a', bundle, '--key', pem, '--type', 'slsaprovenance1']);
    expect(run.code).toBe(1);
    const [verdict, first, second] = lines(run.stdout);
    expect(verdict).toMatch(/^REJECTED/);
    expect(first).toMatch(/^ {2}SUBJECT_MISMATCH: /);
    expect(second).toMatch(/^ {2}MISSING_ATTESTATION: /);
    // The signature itself verified, but the statement is about other bytes: never shown as a pass.
    expect(run.stdout).toMatch(
      /✗ app\.bin\.sigstore\.json .*SUBJECT_MISMATCH \(the signature verified: signed by key/,
    );
    expect(run.stdout).not.toMatch(/✓/);
  });

  it('hints at --path when no rule matched the file name', async () => {
    const policy = write(
      'releases.yaml',
      `version: 1\nrules:\n  - name: releases\n    match: ["releases/**"]\n    require:\n      - type: https://slsa.dev/provenance/v1\n        signers: [{ keyId: "${key.keyId}" }]\n`,
    );
    const run = await vouch(['verify', artifact, '-a', bundle, '--key', pem, '--policy', policy]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /NO_MATCHING_RULE: .*\n {4}the policy was matched against the file name; give the object key .* --path KEY/,
    );
    const matched = await vouch([
      'verify',
      artifact,
      '-a',
      bundle,
      '--key',
      pem,
      '--policy',
      policy,
      '--path',
      'releases/app.bin',
    ]);
    expect(matched.code).toBe(0);
    expect(matched.stdout).not.toContain('--path');
  });

  it('says which time a keyed signature without a signed time was judged at, and why', async () => {
    const now = await vouch(['verify', artifact, '-a', bundle, '--key', pem]);
    expect(now.code).toBe(0);
    expect(now.stdout).toMatch(
      /no transparency-log time or RFC 3161 timestamp.*never trusted.*checked at the time of this run \(--trusted-time sets another\)/,
    );
    const given = await vouch([
      'verify',
      artifact,
      '-a',
      bundle,
      '--key',
      pem,
      '--trusted-time',
      '2026-01-02T03:04:05Z',
    ]);
    expect(given.stdout).toContain('signed by key');
    expect(given.stdout).toContain('at 2026-01-02T03:04:05.000Z');
    expect(given.stdout).toMatch(/the key was checked at --trusted-time/);
    // A keyless signature carries a verified log time: no such note.
    const keylessRun = await vouch([
      'verify',
      keylessArtifact,
      '-b',
      keylessFile,
      '--trusted-root',
      root,
      '--certificate-identity',
      IDENTITY,
      '--certificate-oidc-issuer',
      ISSUER,
    ]);
    expect(keylessRun.code).toBe(0);
    expect(keylessRun.stdout).not.toContain('RFC 3161 timestamp');
  });
});
