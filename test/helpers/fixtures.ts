import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `../shared/fixtures`: real bundles made by others (see its README). Read, never modified. */
export const SHARED_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
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

export const readFixture = (name: string) => readFileSync(`${SIGSTORE_JS}${name}`, 'utf8');
export const fixtureJson = (name: string) => JSON.parse(readFixture(name)) as Record<string, any>;

/** The bundle-verification cases of the sigstore-conformance suite: one folder per case (see its README). */
export const CONFORMANCE = `${SHARED_FIXTURES}sigstore-conformance/bundle-verify/`;
export const CONFORMANCE_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
export const CONFORMANCE_ISSUER = 'https://token.actions.githubusercontent.com';
