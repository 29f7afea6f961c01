import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `../shared/fixtures`: real bundles made by others (see its README). Read, never modified, never copied
 * into the repository. `VOUCH_SHARED_FIXTURES` points elsewhere (a path that does not exist hides them).
 */
export const SHARED_FIXTURES = process.env.VOUCH_SHARED_FIXTURES
  ? `${resolve(process.env.VOUCH_SHARED_FIXTURES)}/`
  : fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const SIGSTORE_JS = `${SHARED_FIXTURES}sigstore-js/`;

export const FIXTURE_BUNDLES = [
  'bundleV01-dsse-no-proof.sigstore',
  'bundleV01-dsse-with-proof.sigstore',
  'bundleV01-full-cert-chain.sigstore',
  'bundleV01-intoto-no-proof.sigstore',
  'bundleV01-intoto-with-proof.sigstore',
  'bundleV02-dsse.sigstore',
  'bundleV02-intoto.sigstore',
  'bundleV03-dsse.sigstore',
  'bundleV03-intoto.sigstore',
] as const;

export const FIXTURE_ARTIFACT = `${SIGSTORE_JS}sigstore-1.0.0.tgz`;
export const FIXTURE_SHA512 =
  '7bea9f6e7ff37f5fab0b36bf061200fff03099fd2fd696b91d04bc5e4f225eb9fd6e0cadcad54ba980f43fb352a99e8810b4e0abeb5c0ef2cf9108cd1f258b36';
export const FIXTURE_IDENTITY = 'brian@dehamer.com';
export const FIXTURE_ISSUER = 'https://github.com/login/oauth';
export const FIXTURE_PREDICATE = 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1';

/** The bundle-verification cases of the sigstore-conformance suite: one folder per case (see its README). */
export const CONFORMANCE = `${SHARED_FIXTURES}sigstore-conformance/bundle-verify/`;
export const CONFORMANCE_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
export const CONFORMANCE_ISSUER = 'https://token.actions.githubusercontent.com';
/** The public-good root as published (the default root of conformance cases without their own). */
export const PUBLIC_GOOD_ROOT_FIXTURE = `${SHARED_FIXTURES}trusted_root.public-good.json`;
/** GitHub's own Sigstore instance: its trusted root, and the TUF root metadata of its trust repository. */
export const GITHUB_TRUSTED_ROOT = `${SHARED_FIXTURES}trust-roots/github.trusted_root.json`;
export const GITHUB_TUF_ROOT = `${SHARED_FIXTURES}trust-roots/github.tuf-root.json`;

/**
 * Whether the shared fixtures are here. A plain clone has no `../shared/`: tests that read them skip
 * (`describe.skipIf(!FIXTURES_AVAILABLE)`), and the self-made bundles of `test/helpers/sigstore` cover
 * the same verification paths.
 */
export const FIXTURES_AVAILABLE =
  existsSync(FIXTURE_ARTIFACT) &&
  FIXTURE_BUNDLES.every((name) => existsSync(`${SIGSTORE_JS}${name}`)) &&
  [`${CONFORMANCE}a.txt`, PUBLIC_GOOD_ROOT_FIXTURE, GITHUB_TRUSTED_ROOT, GITHUB_TUF_ROOT].every((path) =>
    existsSync(path),
  );

/** Why fixture tests were skipped, naming the folder; undefined when the fixtures are here. */
export const FIXTURES_MISSING = FIXTURES_AVAILABLE
  ? undefined
  : `../shared/fixtures not found (looked in ${SHARED_FIXTURES}): the tests and the keyless benchmark that ` +
    'read the real Sigstore bundles in it are skipped; self-made bundles under a test trust root ' +
    '(test/helpers/sigstore) still cover every verification path. Set VOUCH_SHARED_FIXTURES to read them ' +
    'from elsewhere.';

let warned = false;

/** Says once per process why fixture tests are skipped (vitest's global setup, the benchmarks). */
export function warnIfFixturesMissing(): void {
  if (FIXTURES_MISSING && !warned) {
    warned = true;
    console.warn(`\u26a0 ${FIXTURES_MISSING}`);
  }
}

export const readFixture = (name: string) => readFileSync(`${SIGSTORE_JS}${name}`, 'utf8');
export const fixtureJson = (name: string) => JSON.parse(readFixture(name)) as Record<string, any>;
