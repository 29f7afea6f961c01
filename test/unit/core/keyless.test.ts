import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  evaluate,
  type PolicySpec,
  parseAttestationFile,
  staticKeyLookup,
  trustRootFromJson,
} from '#core/index.ts';
import {
  FIXTURE_BUNDLES,
  FIXTURE_IDENTITY,
  FIXTURE_ISSUER,
  FIXTURE_PREDICATE,
  FIXTURE_SHA512,
  FIXTURES_AVAILABLE,
  fixtureJson,
  readFixture,
  SHARED_FIXTURES,
} from '../../helpers/fixtures.ts';

/** Tests that read ../shared/fixtures; without it they skip (see test/helpers/fixtures.ts). */
const describeFixtures = describe.skipIf(!FIXTURES_AVAILABLE);

const policyFor = (
  signer: PolicySpec['rules'][number]['require'][number]['signers'][number],
  type = FIXTURE_PREDICATE,
) =>
  compilePolicy(
    { version: 1, rules: [{ name: 'npm', match: ['**'], require: [{ type, signers: [signer] }] }] },
    'sha256:test',
  );
const trusted = policyFor({ issuer: FIXTURE_ISSUER, identity: FIXTURE_IDENTITY });
const artifact = { path: 'sigstore-1.0.0.tgz', digests: { sha512: FIXTURE_SHA512 } };

function decide(content: string, policy = trusted, digests: Record<string, string> = artifact.digests) {
  const parsed = parseAttestationFile(content, 'bundle.sigstore');
  return evaluate({
    artifact: { path: artifact.path, digests },
    attestations: parsed.attestations,
    inputErrors: parsed.errors,
    policy,
    keys: staticKeyLookup([]),
    observedAt: new Date(),
    strict: true,
  });
}

/** A copy of a fixture, changed: the shared fixtures themselves are never edited. */
function tampered(name: string, change: (bundle: Record<string, any>) => void): string {
  const bundle = fixtureJson(name);
  change(bundle);
  return JSON.stringify(bundle);
}

const flipBase64 = (value: string) => {
  const bytes = Buffer.from(value, 'base64');
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x01;
  return bytes.toString('base64');
};

describeFixtures('keyless Sigstore bundles (sigstore-js fixtures, public-good trusted root)', () => {
  describe.each(FIXTURE_BUNDLES)('%s', (name) => {
    it('is accepted for the signing identity and issuer, with the log time as signing time', () => {
      const decision = decide(readFixture(name));
      expect(decision.reasons).toEqual([]);
      expect(decision.accepted).toBe(true);
      expect(decision.identities).toEqual([`${FIXTURE_ISSUER}|${FIXTURE_IDENTITY}`]);
      expect(decision.attestations[0]?.signatures[0]?.timeSource).toBe('transparency-log');
      expect(decision.attestations[0]?.signatures[0]?.signingTimes?.[0]).toMatch(/^2023-07-12T/);
    });

    it('is rejected for another identity with SIGNER_NOT_ALLOWED', () => {
      const decision = decide(
        readFixture(name),
        policyFor({ issuer: FIXTURE_ISSUER, identity: 'mallory@example.com' }),
      );
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r) => r.code)).toContain('SIGNER_NOT_ALLOWED');
    });

    it('is rejected for another issuer with SIGNER_NOT_ALLOWED', () => {
      const decision = decide(
        readFixture(name),
        policyFor({ issuer: 'https://token.actions.githubusercontent.com', identity: FIXTURE_IDENTITY }),
      );
      expect(decision.reasons.map((r) => r.code)).toContain('SIGNER_NOT_ALLOWED');
    });

    it('is rejected for another artifact with SUBJECT_MISMATCH', () => {
      const decision = decide(readFixture(name), trusted, { sha512: 'ab'.repeat(64) });
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r) => r.code)).toContain('SUBJECT_MISMATCH');
    });

    describe('when the DSSE signature was tampered', () => {
      it('rejects with SIGNATURE_INVALID or TLOG_INVALID', () => {
        const decision = decide(
          tampered(name, (b) => {
            b.dsseEnvelope.signatures[0].sig = flipBase64(b.dsseEnvelope.signatures[0].sig);
          }),
        );
        expect(decision.accepted).toBe(false);
        // The log entry binds the signature too: whichever check trips first, it is a signature-level failure.
        expect(
          decision.reasons.some((r) => r.code === 'SIGNATURE_INVALID' || r.code === 'TLOG_INVALID'),
        ).toBe(true);
      });
    });

    describe('when the payload was replaced by another statement for this artifact', () => {
      it('rejects: the signature no longer covers it', () => {
        const decision = decide(
          tampered(name, (b) => {
            const statement = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
            statement.predicate.version = '6.6.6';
            b.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(decision.reasons.some((r) => ['SIGNATURE_INVALID', 'TLOG_INVALID'].includes(r.code))).toBe(
          true,
        );
      });
    });

    describe('when the transparency log entries were removed', () => {
      it('rejects: a short-lived certificate means nothing without a trusted time', () => {
        const decision = decide(
          tampered(name, (b) => {
            b.verificationMaterial.tlogEntries = [];
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(decision.reasons.map((r) => r.code)).toContain('TIMESTAMP_INVALID');
      });
    });

    describe('when the log integration time was moved', () => {
      it('rejects with TLOG_INVALID (the signed entry timestamp no longer matches)', () => {
        const decision = decide(
          tampered(name, (b) => {
            b.verificationMaterial.tlogEntries[0].integratedTime = String(
              Number(b.verificationMaterial.tlogEntries[0].integratedTime) + 60,
            );
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(decision.reasons.some((r) => ['TLOG_INVALID', 'CERTIFICATE_INVALID'].includes(r.code))).toBe(
          true,
        );
      });
    });
  });

  describe('with a trusted root that does not contain the Sigstore CAs', () => {
    it('rejects with CERTIFICATE_INVALID', () => {
      const root = JSON.parse(readFileSync(`${SHARED_FIXTURES}trusted_root.public-good.json`, 'utf8'));
      root.certificateAuthorities = [];
      const parsed = parseAttestationFile(readFixture('bundleV03-dsse.sigstore'), 'b');
      const decision = evaluate({
        artifact,
        attestations: parsed.attestations,
        policy: trusted,
        keys: staticKeyLookup([]),
        trustRoot: trustRootFromJson(root),
        observedAt: new Date(),
      });
      expect(decision.accepted).toBe(false);
      expect(decision.notes.map((r) => r.code)).toContain('CERTIFICATE_INVALID');
    });
  });

  describe('identity regular expressions', () => {
    it('are anchored: a pattern that merely occurs in the identity does not match', () => {
      const decision = decide(
        readFixture('bundleV03-dsse.sigstore'),
        policyFor({ issuer: FIXTURE_ISSUER, identityRegexp: 'dehamer' }),
      );
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r) => r.code)).toEqual(['SIGNER_NOT_ALLOWED', 'MISSING_ATTESTATION']);
    });

    it('match the whole identity', () => {
      const decision = decide(
        readFixture('bundleV03-dsse.sigstore'),
        policyFor({ issuer: FIXTURE_ISSUER, identityRegexp: '[a-z]+@dehamer\\.com' }),
      );
      expect(decision.accepted).toBe(true);
    });
  });

  it('rejects a verified attestation of the wrong predicate type with MISSING_ATTESTATION', () => {
    const decision = decide(
      readFixture('bundleV03-dsse.sigstore'),
      policyFor({ issuer: FIXTURE_ISSUER, identity: FIXTURE_IDENTITY }, 'https://slsa.dev/provenance/v1'),
    );
    expect(decision.accepted).toBe(false);
    expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
  });
});
