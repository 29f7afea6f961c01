import { createHash } from 'node:crypto';
import type { KeyRegistry } from '#adapters/key-registry.ts';
import {
  createStatement,
  type KeyedDsseBundleJson,
  type ReasonCode,
  signPayload as signPayloadWith,
  signStatement,
} from '#core/index.ts';
import { FIXTURE_IDENTITY, FIXTURE_ISSUER, FIXTURE_PREDICATE } from '../helpers/fixtures.ts';
import type { TestKey } from '../helpers/keys.ts';
import { type BundleJson, type KeylessOptions, keylessBundle } from '../helpers/sigstore/index.ts';

/** One object to put in the staging bucket. */
export interface Upload {
  readonly key: string;
  readonly body: Buffer | string;
}

/** What a case uploads. Attestations are uploaded (and their events processed) before the artifact. */
export interface CorpusUploads {
  /**
   * The object under attack. Its recorded decision must be `rejected` and nothing under its key may ever
   * reach the deployment bucket. For a hostile object key this is the hostile object itself.
   */
  readonly artifact: Upload;
  readonly attestations?: readonly Upload[];
  /**
   * The key whose record carries `expectedReason`, when it is not the artifact's: an attestation file the
   * pipeline refuses whole (unparseable, oversized) gets its own rejected record, while the artifact
   * beside it is rejected for having no usable attestation (MISSING_ATTESTATION).
   */
  readonly reasonOn?: string;
  /** Other keys the attack hopes to reach in the deployment bucket (a normalised or look-alike name). */
  readonly neverPromotedAs?: readonly string[];
  /** Staging objects the pipeline must refuse without reading a byte of them (oversized uploads). */
  readonly unread?: readonly string[];
}

/** What a case can use to build its uploads: the registered keys, and the registry for setup. */
export interface CorpusContext {
  /** Registered and active since 2020: the pipeline's own signing key, trusted by `{ registry: true }`. */
  readonly pipelineKey: TestKey;
  /** Registered and active since 2020: the second signer of the 2-of-2 rule. */
  readonly secondKey: TestKey;
  readonly registry: KeyRegistry;
  /** Registers a fresh P-256 key `arn:aws:kms:us-east-1:000000000000:key/<name>`, active since 2020. */
  registerKey(name: string): Promise<TestKey>;
}

export interface CorpusCase {
  /** Unique, kebab-case: also the test name. */
  readonly name: string;
  readonly description: string;
  /** The reason code the rejection must carry: see `settles` for where. */
  readonly expectedReason: ReasonCode;
  /**
   * `at-once`: rejected as soon as its uploads are processed (a refused key, or an allowed signer's word
   * against the artifact), `expectedReason` the first of the verdict's reasons (of the refused file's
   * own record, with `reasonOn`). `at-deadline`: what it uploads is junk nobody allowed, which never
   * decides, so the artifact waits — pending on what it still lacks (MISSING_ATTESTATION or
   * THRESHOLD_NOT_MET), `expectedReason` on its record for `vouch status` to show — until its deadline
   * passes and the sweep rejects it for what it waited on, `expectedReason` still on the record. Any
   * other outcome fails the case.
   */
  readonly settles: 'at-once' | 'at-deadline';
  /** It uploads real bundles from ../shared/fixtures, and is skipped where that folder is absent. */
  readonly readsFixtures?: boolean;
  build(ctx: CorpusContext): Promise<CorpusUploads>;
}

export const PROVENANCE = 'https://slsa.dev/provenance/v1';
export const BUILDER =
  'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml';
export const PIPELINE_KEY_ID = 'arn:aws:kms:us-east-1:000000000000:key/corpus-pipeline';
export const SECOND_KEY_ID = 'arn:aws:kms:us-east-1:000000000000:key/corpus-second';
export const KEY_ARN_PREFIX = 'arn:aws:kms:us-east-1:000000000000:key/';
export const OTHER_ISSUER = 'https://token.actions.githubusercontent.com';
export const VULNS = 'https://in-toto.io/attestation/vulns/v0.1';
export const OPENVEX = 'https://openvex.dev/ns/v0.2.0';

/** An in-toto vulns predicate (test/fixtures/scans) scanned now, with one finding per given severity. */
export const scanPredicate = (severities: readonly string[], at = new Date()) => ({
  scanner: {
    uri: 'pkg:github/aquasecurity/trivy@0.50.1',
    result: severities.map((score, i) => ({
      id: `CVE-2026-${10000 + i}`,
      severity: [{ method: 'nvd', score }],
    })),
  },
  metadata: { scanStartedOn: at.toISOString(), scanFinishedOn: at.toISOString() },
});

/**
 * The corpus policy. Every rule can accept (the corpus test proves it with a control upload per rule), so
 * each rejection is the attack's doing, not a rule that can never pass.
 */
export const CORPUS_POLICY = `
version: 1
signers:
  pipeline: [{ registry: true }]
rules:
  - name: releases
    match: ["releases/**"]
    require: [{ type: ${PROVENANCE}, signers: [pipeline] }]
  - name: builds
    match: ["builds/**"]
    require: [{ type: ${PROVENANCE}, signers: [pipeline], builderIds: ["${BUILDER}"] }]
  - name: dual
    match: ["dual/**"]
    require:
      - type: ${PROVENANCE}
        signers: [{ keyId: "${PIPELINE_KEY_ID}" }, { keyId: "${SECOND_KEY_ID}" }]
        threshold: 2
  - name: sources
    match: ["sources/**"]
    require: [{ type: ${PROVENANCE}, signers: [pipeline], sourceRepositories: ["https://github.com/acme/app"] }]
  - name: pinned
    match: ["pinned/**"]
    require: [{ type: ${PROVENANCE}, signers: [{ keyId: "${PIPELINE_KEY_ID}" }] }]
  - name: npm
    match: ["npm/**"]
    require: [{ type: "${FIXTURE_PREDICATE}", signers: [{ issuer: "${FIXTURE_ISSUER}", identity: "${FIXTURE_IDENTITY}" }] }]
  - name: npm-other-identity
    match: ["keyless/identity/**"]
    require: [{ type: "${FIXTURE_PREDICATE}", signers: [{ issuer: "${FIXTURE_ISSUER}", identity: "mallory@example.com" }] }]
  - name: conditioned
    match: ["conditioned/**"]
    require:
      - type: ${PROVENANCE}
        signers: [pipeline]
        conditions:
          - "predicate.runDetails.builder.id.startsWith('${BUILDER}')"
          - "!has(predicate.materials) || predicate.materials.all(m, predicate.materials.exists(n, n == m))"
  - name: scanned
    match: ["scanned/**"]
    require:
      - { type: ${PROVENANCE}, signers: [pipeline] }
      - type: ${VULNS}
        signers: [pipeline]
        vulnerabilities: { maxSeverity: high, honorVex: true, maxAgeHours: 24 }
  - name: npm-other-issuer
    match: ["keyless/issuer/**"]
    require: [{ type: "${FIXTURE_PREDICATE}", signers: [{ issuer: "${OTHER_ISSUER}", identity: "${FIXTURE_IDENTITY}" }] }]
`;

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
export const sha512 = (data: Buffer | string) => createHash('sha512').update(data).digest('hex');

/** A SLSA v1 provenance predicate naming the builder. */
export const provenancePredicate = (builderId = `${BUILDER}@refs/tags/v2.0.0`) => ({
  buildDefinition: {
    buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
    externalParameters: {
      workflow: {
        ref: 'refs/heads/main',
        repository: 'https://github.com/acme/app',
        path: '.github/workflows/release.yml',
      },
    },
  },
  runDetails: { builder: { id: builderId } },
});

export interface AttestOptions {
  /** Subject digests; defaults to the sha256 of `bytes`. */
  readonly digests?: Readonly<Record<string, string>>;
  readonly predicateType?: string;
  readonly predicate?: Record<string, unknown>;
}

/** A Sigstore v0.3 bundle (as `vouch sign` writes it) of a statement naming `name` with the digest of `bytes`. */
export async function attest(
  key: TestKey,
  name: string,
  bytes: Buffer | string,
  options: AttestOptions = {},
): Promise<KeyedDsseBundleJson> {
  const statement = createStatement(
    [{ name, digests: { sha256: sha256(bytes) } }],
    options.predicateType ?? PROVENANCE,
    options.predicate ?? provenancePredicate(),
  );
  if (options.digests) {
    // createStatement only keeps known algorithms; a forged digest set is written as given.
    const forged = { ...statement, subject: [{ name, digest: { ...options.digests } }] };
    return signStatement(forged, key.sign);
  }
  return signStatement(statement, key.sign);
}

/**
 * A keyless bundle of the test instance (test/helpers/sigstore) for `bytes`, signed as the keyless rules
 * expect (the fixture's identity, issuer and predicate type): the corpus's keyless cases without shared files.
 */
export function keylessAttest(bytes: Buffer | string, options: Partial<KeylessOptions> = {}): BundleJson {
  return keylessBundle({
    content: {
      statement: createStatement(
        [{ name: 'app.tgz', digests: { sha256: sha256(bytes) } }],
        FIXTURE_PREDICATE,
        {},
      ),
    },
    identity: { san: { email: FIXTURE_IDENTITY }, issuer: FIXTURE_ISSUER },
    ...options,
  });
}

/** Signs arbitrary payload bytes (which need not be a valid statement) as a keyed v0.3 bundle. */
export async function signPayload(key: TestKey, payload: Buffer): Promise<KeyedDsseBundleJson> {
  return signPayloadWith(payload, key.sign);
}

export const json = (value: unknown) => JSON.stringify(value);
