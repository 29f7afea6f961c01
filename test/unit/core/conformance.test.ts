import { describe, expect, it } from 'vitest';
import type { ReasonCode } from '#core/index.ts';
import { type CaseOutcome, conformanceCases, decideCase } from '../../helpers/conformance.ts';
import { FIXTURES_AVAILABLE } from '../../helpers/fixtures.ts';

/**
 * Why each `_fail` case of sigstore-conformance's bundle-verify suite is rejected: the first reason of
 * the decision (the root cause). A new case without an entry fails the test, so none passes unread.
 */
const FAILS_WITH: Record<string, ReasonCode> = {
  'bundle-empty-certificate-chain_fail': 'PARSE_ERROR',
  'bundle-from-wrong-instance_fail': 'CERTIFICATE_INVALID',
  'bundle-invalid-base64-signature_fail': 'PARSE_ERROR',
  'bundle-malformed-json_fail': 'PARSE_ERROR',
  'bundle-negative-log-index_fail': 'TLOG_INVALID',
  'bundle-unknown-version_fail': 'UNSUPPORTED_FORMAT',
  // Signed by a@tny.town, not the suite's identity; with its own identity, see below.
  'bundle-with-root-cert_fail': 'SIGNER_NOT_ALLOWED',
  'checkpoint-bad-keyhint_fail': 'TLOG_INVALID',
  'checkpoint-wrong-roothash_fail': 'TLOG_INVALID',
  'dsse-invalid-sig_fail': 'TLOG_INVALID',
  'dsse-mismatch-envelope_fail': 'TLOG_INVALID',
  'dsse-mismatch-sig_fail': 'TLOG_INVALID',
  'inclusion-proof-corrupted-hash_fail': 'TLOG_INVALID',
  'incorrect-public-key_fail': 'TLOG_INVALID',
  'integrated-time-in-future_fail': 'CERTIFICATE_INVALID',
  'intoto-expired-certificate_fail': 'CERTIFICATE_INVALID',
  'intoto-log-entry-mismatch_fail': 'TLOG_INVALID',
  'intoto-missing-inclusion-proof_fail': 'PARSE_ERROR',
  'intoto-set-outside-signing-cert-validity_fail': 'CERTIFICATE_INVALID',
  'intoto-tsa-timestamp-outside-cert-validity_fail': 'CERTIFICATE_INVALID',
  'invalid-checkpoint-signature_fail': 'TLOG_INVALID',
  'invalid-ct-key_fail': 'CERTIFICATE_INVALID',
  'invalid-inclusion-proof_fail': 'PARSE_ERROR',
  'managed-key-no-key_fail': 'UNKNOWN_KEY',
  // Its key.pub is not a valid key: refused before anything is verified, as `vouch verify --key` does.
  'managed-key-wrong-key_fail': 'PARSE_ERROR',
  'message-digest-mismatch_fail': 'TLOG_INVALID',
  'rekor2-checkpoint-missing-log-signature_fail': 'TLOG_INVALID',
  'rekor2-checkpoint-missing-origin_fail': 'TLOG_INVALID',
  'rekor2-checkpoint-missing-root-hash_fail': 'TLOG_INVALID',
  'rekor2-checkpoint-missing-size_fail': 'TLOG_INVALID',
  'rekor2-checkpoint-no-matching-signature_fail': 'TLOG_INVALID',
  'rekor2-dsse-invalid-sig_fail': 'TLOG_INVALID',
  'rekor2-dsse-mismatch-envelope_fail': 'TLOG_INVALID',
  'rekor2-dsse-mismatch-sig_fail': 'TLOG_INVALID',
  'rekor2-no-inclusion-proof_fail': 'PARSE_ERROR',
  'rekor2-no-timestamp_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-outside-trust-root-tsa-validity_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-outside-tsa-cert-validity_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-payload-mismatch_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-with-incorrect-time_fail': 'CERTIFICATE_INVALID',
  'set-invalid-signature_fail': 'TLOG_INVALID',
  'signature-mismatch_fail': 'TLOG_INVALID',
  // Vouch's own check: @sigstore/verify reads the missing start as "since the beginning of time".
  'trust-root-tlog-missing-validity-start_fail': 'PARSE_ERROR',
  'wrong-hashedrekord-artifact_fail': 'TLOG_INVALID',
  'wrong-hashedrekord-cert-and-sig_fail': 'TLOG_INVALID',
  'wrong-hashedrekord-entry_fail': 'TLOG_INVALID',
  'wrong-material_fail': 'SUBJECT_MISMATCH',
};

const cases = conformanceCases();
const outcomes = new Map<string, CaseOutcome>(cases.map((name) => [name, decideCase(name)]));
const outcome = (name: string) => outcomes.get(name) as CaseOutcome;
const timeSourceOf = (name: string) => outcome(name).decision?.attestations[0]?.signatures[0]?.timeSource;

describe.skipIf(!FIXTURES_AVAILABLE)('sigstore-conformance bundle-verify, every case', () => {
  it('has the 70 cases of the suite at a73de49', () => {
    expect(cases).toHaveLength(70);
  });

  it('decides all 70 as the suite expects', () => {
    const wrong = cases.filter((name) => outcome(name).accepted === name.endsWith('_fail'));
    expect(wrong).toEqual([]);
    console.info(
      `sigstore-conformance: ${cases.length - wrong.length}/${cases.length} cases decided as expected`,
    );
  });

  describe.each(cases.filter((name) => !name.endsWith('_fail')))('%s', (name) => {
    it('is accepted', () => {
      expect(outcome(name).messages).toEqual([]);
      expect(outcome(name).accepted).toBe(true);
    });
  });

  describe.each(cases.filter((name) => name.endsWith('_fail')))('%s', (name) => {
    it(`is rejected with ${FAILS_WITH[name] ?? '(no expected reason listed)'}`, () => {
      expect(outcome(name).accepted).toBe(false);
      expect(outcome(name).codes[0]).toBe(FAILS_WITH[name]);
    });
  });
});

describe.skipIf(!FIXTURES_AVAILABLE)('sigstore-conformance cases Vouch decides beyond the library', () => {
  it('refuses a trusted root whose log key has no validity start, naming the log', () => {
    const { codes, messages } = outcome('trust-root-tlog-missing-validity-start_fail');
    expect(codes).toEqual(['PARSE_ERROR']);
    expect(messages[0]).toMatch(/tlogs\[1\] has no validFor\.start/);
  });

  it('rejects bundle-with-root-cert for the identity its certificate names too, for its proof', () => {
    // Its v0.1 inclusion proof has no checkpoint (the library would throw a TypeError on it). The root in
    // its chain is never used as an anchor (only the leaf is read), as with sigstore-js's own v0.1
    // full-chain fixture, which verifies.
    const { codes, messages } = decideCase('bundle-with-root-cert_fail', {
      issuer: 'https://github.com/login/oauth',
      identity: 'a@tny.town',
    });
    expect(codes[0]).toBe('TLOG_INVALID');
    expect(messages[0]).toMatch(/inclusion proof without a checkpoint/);
  });
});

describe.skipIf(!FIXTURES_AVAILABLE)('sigstore-conformance trusted times', () => {
  it.each(['happy-path-v0.3', 'managed-key-happy-path'])(
    '%s is accepted at the log time (promise), from the streamed digest',
    (name) => {
      expect(outcome(name).accepted).toBe(true);
      expect(timeSourceOf(name)).toBe('transparency-log');
    },
  );

  it.each(['rekor2-happy-path', 'rekor2-dsse-happy-path'])(
    '%s (Rekor v2: no integrated time) is accepted at the RFC 3161 time',
    (name) => {
      expect(outcome(name).accepted).toBe(true);
      expect(timeSourceOf(name)).toBe('timestamp-authority');
    },
  );
});
