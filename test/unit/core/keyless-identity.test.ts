import { describe, expect, it } from 'vitest';
import { parseAttestationFile } from '#core/index.ts';
import { certificateIdentity, leafCertificate } from '#core/keyless.ts';
import { decide, ISSUER, KEYLESS_SIGNER, statementAbout } from '../../helpers/decide.ts';
import { DEFAULT_IDENTITY, keylessBundle } from '../../helpers/sigstore/index.ts';

// What a keyless bundle's leaf certificate claims, read before anything is verified: for the pre-screen
// that spares a certificate chain and a log entry for an identity no rule allows.
const bundleOf = (identity = DEFAULT_IDENTITY) => {
  const json = keylessBundle({
    content: { statement: statementAbout() },
    identity: { ...identity, issuer: ISSUER },
  });
  const bundle = parseAttestationFile(JSON.stringify(json), 'k.sigstore.json').attestations[0]?.signatures[0];
  if (!bundle) throw new Error('the keyless bundle did not parse');
  return bundle;
};

describe('#certificateIdentity', () => {
  it('reads the identity and issuer, with no claims where the certificate carries none', () => {
    expect(certificateIdentity(bundleOf())).toStrictEqual({
      kind: 'keyless',
      issuer: ISSUER,
      subjectAlternativeName: 'signer@vouch.test',
    });
  });

  it('reads the CI claims the certificate carries', () => {
    const identity = certificateIdentity(
      bundleOf({ ...DEFAULT_IDENTITY, github: { sourceRepositoryRef: 'refs/tags/v1' } }),
    );
    expect(identity?.claims).toEqual({ sourceRepositoryRef: 'refs/tags/v1' });
  });

  it('reads each bundle once: the pre-screen and the choice of roots share one reading', () => {
    const bundle = bundleOf();
    expect(leafCertificate(bundle)).toBeDefined();
    expect(leafCertificate(bundle)).toBe(leafCertificate(bundle));
    expect(certificateIdentity(bundle)).toBe(certificateIdentity(bundle));
  });
});

describe('the keyless pre-screen', () => {
  it('says whom it refused, without verifying, when no rule allows the identity', () => {
    const json = keylessBundle({
      content: { statement: statementAbout() },
      identity: { ...DEFAULT_IDENTITY, san: { email: 'intruder@vouch.test' }, issuer: ISSUER },
    });
    const decision = decide(json, { policy: KEYLESS_SIGNER });
    expect(decision.reasons).toContainEqual({
      code: 'SIGNER_NOT_ALLOWED',
      message: `signed by intruder@vouch.test (issuer ${ISSUER}), whom no applicable rule allows; not verified`,
      subject: 'bundle0.sigstore.json',
    });
  });
});
