import { describe, expect, it } from 'vitest';
import {
  ARTIFACT,
  codes,
  decide,
  firstSignature,
  flipBase64,
  IDENTITY,
  ISSUER,
  PROVENANCE_V1,
  policyFor,
  statementAbout,
  tampered,
} from '../../helpers/decide.ts';
import {
  DEFAULT_SIGNING_TIME,
  type KeylessOptions,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

const statement = { statement: statementAbout() };
const seconds = (n: number) => new Date(DEFAULT_SIGNING_TIME.getTime() + n * 1000);
const integratedTime = seconds(2);

/**
 * The shapes of the sigstore-js fixtures (bundle media types v0.1–v0.3, `dsse` and `intoto` log entries,
 * with and without an inclusion proof), made by the test instance: same paths, no shared files.
 */
const SHAPES: { name: string; options: Partial<KeylessOptions> }[] = [
  {
    name: 'v0.1, dsse entry, promise only',
    options: { mediaType: 'v0.1', tlog: { kind: 'dsse', proof: false } },
  },
  { name: 'v0.1, dsse entry, promise and proof', options: { mediaType: 'v0.1', tlog: { kind: 'dsse' } } },
  {
    name: 'v0.1, intoto entry, promise only',
    options: { mediaType: 'v0.1', tlog: { kind: 'intoto', proof: false } },
  },
  { name: 'v0.1, intoto entry, promise and proof', options: { mediaType: 'v0.1', tlog: { kind: 'intoto' } } },
  { name: 'v0.2, dsse entry', options: { mediaType: 'v0.2', tlog: { kind: 'dsse' } } },
  { name: 'v0.2, intoto entry', options: { mediaType: 'v0.2', tlog: { kind: 'intoto' } } },
  { name: 'v0.3, dsse entry', options: { mediaType: 'v0.3', tlog: { kind: 'dsse' } } },
  { name: 'v0.3, intoto entry', options: { mediaType: 'v0.3', tlog: { kind: 'intoto' } } },
];

describe('keyless bundles of the test instance (Fulcio-like CA, CT log, Rekor v1)', () => {
  describe.each(SHAPES)('$name', ({ options }) => {
    const bundle = keylessBundle({ content: statement, ...options });

    it('is accepted for the signing identity and issuer, with the log time as signing time', () => {
      const decision = decide(bundle);
      expect(decision.reasons).toEqual([]);
      expect(decision.accepted).toBe(true);
      expect(decision.identities).toEqual([`${ISSUER}|${IDENTITY}`]);
      expect(firstSignature(decision)).toMatchObject({
        timeSource: 'transparency-log',
        signingTimes: [integratedTime.toISOString()],
      });
    });

    it('is rejected for another identity with SIGNER_NOT_ALLOWED', () => {
      const decision = decide(bundle, {
        policy: policyFor([{ issuer: ISSUER, identity: 'mallory@vouch.test' }]),
      });
      expect(decision.accepted).toBe(false);
      expect(codes(decision)).toContain('SIGNER_NOT_ALLOWED');
    });

    it('is rejected for another issuer with SIGNER_NOT_ALLOWED', () => {
      const decision = decide(bundle, {
        policy: policyFor([{ issuer: 'https://token.actions.githubusercontent.com', identity: IDENTITY }]),
      });
      expect(decision.accepted).toBe(false);
      expect(codes(decision)).toContain('SIGNER_NOT_ALLOWED');
    });

    it('is rejected for another artifact with SUBJECT_MISMATCH', () => {
      const decision = decide(bundle, { digests: { sha256: 'ab'.repeat(32) } });
      expect(decision.accepted).toBe(false);
      expect(codes(decision)).toContain('SUBJECT_MISMATCH');
    });

    describe('when the DSSE signature was tampered', () => {
      it('rejects with TLOG_INVALID: the log entry records the original signature', () => {
        const decision = decide(
          tampered(bundle, (b) => {
            b.dsseEnvelope.signatures[0].sig = flipBase64(b.dsseEnvelope.signatures[0].sig);
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
      });
    });

    describe('when the payload was replaced by another statement for this artifact', () => {
      it('rejects with TLOG_INVALID: the log entry records the original payload hash', () => {
        const decision = decide(
          tampered(bundle, (b) => {
            const other = { ...statementAbout(), predicate: { version: '6.6.6' } };
            b.dsseEnvelope.payload = Buffer.from(JSON.stringify(other)).toString('base64');
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
      });
    });

    describe('when the transparency log entries were removed', () => {
      it('rejects with TIMESTAMP_INVALID: a short-lived certificate means nothing without a trusted time', () => {
        const decision = decide(
          tampered(bundle, (b) => {
            b.verificationMaterial.tlogEntries = [];
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(codes(decision)).toContain('TIMESTAMP_INVALID');
      });
    });

    describe('when the log integration time was moved', () => {
      it('rejects with TLOG_INVALID (the signed entry timestamp no longer matches)', () => {
        const decision = decide(
          tampered(bundle, (b) => {
            const entry = b.verificationMaterial.tlogEntries[0];
            entry.integratedTime = String(Number(entry.integratedTime) + 60);
          }),
        );
        expect(decision.accepted).toBe(false);
        expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
      });
    });
  });

  describe('message signatures (hashedrekord entries)', () => {
    it.each(['sha256', 'sha512'] as const)(
      'accepts a signature over the artifact with a %s digest',
      (algorithm) => {
        const decision = decide(keylessBundle({ content: { artifact: ARTIFACT, algorithm } }), {
          policy: policyFor([{ issuer: ISSUER, identity: IDENTITY }], 'signature'),
        });
        expect(decision.reasons).toEqual([]);
        expect(decision.accepted).toBe(true);
        expect(firstSignature(decision)?.timeSource).toBe('transparency-log');
      },
    );

    it('rejects a signature over other bytes with SUBJECT_MISMATCH', () => {
      const decision = decide(keylessBundle({ content: { artifact: Buffer.from('other bytes') } }), {
        policy: policyFor([{ issuer: ISSUER, identity: IDENTITY }], 'signature'),
      });
      expect(decision.accepted).toBe(false);
      // The signature is verified over the digest it carries (so attributed to its signer); that digest
      // is not the artifact's.
      expect(firstSignature(decision)?.signer).toBeDefined();
      expect(decision.attestations[0]?.reasons.map((r) => r.code)).toEqual(['SUBJECT_MISMATCH']);
    });

    it('rejects a tampered signature with TLOG_INVALID', () => {
      const bundle = keylessBundle({ content: { artifact: ARTIFACT } });
      const decision = decide(
        tampered(bundle, (b) => {
          b.messageSignature.signature = flipBase64(b.messageSignature.signature);
        }),
        { policy: policyFor([{ issuer: ISSUER, identity: IDENTITY }], 'signature') },
      );
      expect(decision.accepted).toBe(false);
      expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
    });
  });

  it('rejects a verified attestation of the wrong predicate type with MISSING_ATTESTATION only', () => {
    const decision = decide(
      keylessBundle({ content: { statement: statementAbout(ARTIFACT, 'https://spdx.dev/Document') } }),
    );
    expect(decision.accepted).toBe(false);
    expect(codes(decision)).toEqual(['MISSING_ATTESTATION']);
    expect(decision.attestations[0]?.verified).toBe(true);
  });
});

describe('the certificate chain', () => {
  const bundle = keylessBundle({ content: statement });

  it('is verified to the root through the intermediate the trusted root lists', () => {
    expect(decide(bundle).accepted).toBe(true);
  });

  it('rejects a root that trusts no CA with CERTIFICATE_INVALID', () => {
    const decision = decide(bundle, { trustRoot: testInstance({ ca: false }).trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it("rejects a certificate from another instance's CA with CERTIFICATE_INVALID", () => {
    const elsewhere = testInstance({ name: 'elsewhere' });
    const decision = decide(keylessBundle({ content: statement, certificate: { issuer: elsewhere } }));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it('rejects a CA outside its validity window in the trusted root with CERTIFICATE_INVALID', () => {
    const expired = testInstance({ ca: { validFor: { end: new Date('2025-01-01T00:00:00Z') } } });
    const decision = decide(bundle, { trustRoot: expired.trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it('accepts a log time at the last second of the certificate', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: { integratedTime: seconds(600) } }));
    expect(decision.accepted).toBe(true);
  });

  it('rejects a log time after the certificate expired with CERTIFICATE_INVALID', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: { integratedTime: seconds(601) } }));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it('rejects a log time before the certificate was issued with CERTIFICATE_INVALID', () => {
    const decision = decide(keylessBundle({ content: statement, tlog: { integratedTime: seconds(-1) } }));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });
});

describe('embedded SCTs (certificate transparency)', () => {
  const withSct = (sct: 'valid' | 'missing' | 'forged') =>
    keylessBundle({ content: statement, certificate: { sct } });

  it('accepts a certificate whose SCT the trusted CT log signed', () => {
    expect(decide(withSct('valid')).accepted).toBe(true);
  });

  it('rejects a certificate without an SCT with CERTIFICATE_INVALID', () => {
    const decision = decide(withSct('missing'));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'CERTIFICATE_INVALID',
      message: 'expected 1 SCTs, got 0',
    });
  });

  it('rejects an SCT naming the trusted CT log but signed by another key with CERTIFICATE_INVALID', () => {
    const decision = decide(withSct('forged'));
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'CERTIFICATE_INVALID',
      message: 'SCT verification failed',
    });
  });

  it('rejects an SCT from a CT log the root does not trust with CERTIFICATE_INVALID', () => {
    const decision = decide(withSct('valid'), { trustRoot: testInstance({ ctlog: false }).trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it("rejects an SCT outside the CT log's validity window with CERTIFICATE_INVALID", () => {
    const retired = testInstance({ ctlog: { validFor: { end: new Date('2026-01-01T00:00:00Z') } } });
    const decision = decide(withSct('valid'), { trustRoot: retired.trustRoot });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });
});

describe('identities and issuers', () => {
  const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0';
  const ACTIONS = 'https://token.actions.githubusercontent.com';
  const github = keylessBundle({
    content: statement,
    identity: {
      san: { uri: WORKFLOW },
      issuer: ACTIONS,
      github: {
        buildSignerUri: WORKFLOW,
        buildSignerDigest: 'a'.repeat(40),
        runnerEnvironment: 'github-hosted',
        sourceRepositoryUri: 'https://github.com/acme/app',
        sourceRepositoryDigest: 'a'.repeat(40),
        sourceRepositoryRef: 'refs/tags/v1.2.0',
        buildTrigger: 'push',
        sourceRepositoryVisibility: 'public',
      },
    },
  });

  it('matches an email SAN exactly and reports issuer|identity', () => {
    const decision = decide(keylessBundle({ content: statement }));
    expect(decision.identities).toEqual([`${ISSUER}|${IDENTITY}`]);
  });

  it('matches a GitHub workflow URI SAN with an anchored regexp', () => {
    const decision = decide(github, {
      policy: policyFor([
        {
          issuer: ACTIONS,
          identityRegexp: 'https://github\\.com/acme/app/\\.github/workflows/release\\.yml@refs/tags/v.*',
        },
      ]),
    });
    expect(decision.reasons).toEqual([]);
    expect(decision.identities).toEqual([`${ACTIONS}|${WORKFLOW}`]);
  });

  it('does not match a regexp that only occurs inside the identity (SIGNER_NOT_ALLOWED)', () => {
    const decision = decide(github, { policy: policyFor([{ issuer: ACTIONS, identityRegexp: 'acme/app' }]) });
    expect(decision.accepted).toBe(false);
    expect(codes(decision)).toContain('SIGNER_NOT_ALLOWED');
  });

  it('refuses a workflow of another repository (SIGNER_NOT_ALLOWED)', () => {
    const decision = decide(github, {
      policy: policyFor([
        {
          issuer: ACTIONS,
          identity: 'https://github.com/acme/other/.github/workflows/release.yml@refs/tags/v1.2.0',
        },
      ]),
    });
    expect(codes(decision)).toContain('SIGNER_NOT_ALLOWED');
  });

  it.each(['current', 'legacy'] as const)(
    'reads the issuer from the %s extension alone',
    (issuerEncoding) => {
      const bundle = keylessBundle({
        content: statement,
        identity: { san: { email: IDENTITY }, issuer: ISSUER, issuerEncoding },
      });
      const decision = decide(bundle);
      expect(decision.reasons).toEqual([]);
      expect(decision.identities).toEqual([`${ISSUER}|${IDENTITY}`]);
    },
  );

  it('rejects a certificate that names no OIDC issuer with CERTIFICATE_INVALID', () => {
    const bundle = keylessBundle({ content: statement, identity: { san: { email: IDENTITY } } });
    const decision = decide(bundle);
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'CERTIFICATE_INVALID',
      message: 'the signing certificate names no identity (SAN) or OIDC issuer',
    });
  });

  it('does not let a keyless signer satisfy { registry: true } (SIGNER_NOT_ALLOWED)', () => {
    const decision = decide(keylessBundle({ content: statement }), {
      policy: policyFor([{ registry: true }]),
    });
    expect(codes(decision)).toContain('SIGNER_NOT_ALLOWED');
  });

  describe('with a threshold of two distinct identities', () => {
    const SECOND = 'second@vouch.test';
    const twoOf = policyFor(
      [
        { issuer: ISSUER, identity: IDENTITY },
        { issuer: ISSUER, identity: SECOND },
      ],
      PROVENANCE_V1,
      2,
    );
    const by = (email: string) =>
      keylessBundle({ content: statement, identity: { san: { email }, issuer: ISSUER } });

    it('accepts bundles by the two identities', () => {
      const decision = decide([by(IDENTITY), by(SECOND)], { policy: twoOf });
      expect(decision.reasons).toEqual([]);
      expect([...decision.identities].sort()).toEqual(
        [`${ISSUER}|${IDENTITY}`, `${ISSUER}|${SECOND}`].sort(),
      );
    });

    it('counts two bundles by one identity once (THRESHOLD_NOT_MET)', () => {
      const decision = decide([by(IDENTITY), by(IDENTITY)], { policy: twoOf });
      expect(decision.accepted).toBe(false);
      expect(codes(decision)[0]).toBe('THRESHOLD_NOT_MET');
    });
  });
});
