import { X509Certificate } from '@sigstore/core';
import { describe, expect, it, vi } from 'vitest';
import { loadTrustRoot, trustRootFromJson, VouchError } from '#core/index.ts';
import { decide, firstSignature, statementAbout, tampered } from '../../helpers/decide.ts';
import {
  DEFAULT_SIGNING_TIME,
  type InstanceOptions,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

const statement = { statement: statementAbout() };
const at = (seconds: number) => new Date(DEFAULT_SIGNING_TIME.getTime() + seconds * 1000);

function refusal(load: () => unknown): VouchError {
  try {
    load();
  } catch (error) {
    if (error instanceof VouchError) return error;
    throw error;
  }
  throw new Error('the root was accepted');
}

describe('trustRootFromJson', () => {
  it('loads the pinned public-good root and a complete test root', () => {
    expect(loadTrustRoot().tlogs.length).toBeGreaterThan(0);
    expect(testInstance().trustRoot.certificateAuthorities).toHaveLength(1);
  });

  describe.each([
    ['a CA', { ca: { validFor: { start: null } } }, 'certificateAuthorities[0]'],
    ['a transparency log', { rekorV2: { validFor: { start: null } } }, 'tlogs[1]'],
    ['a CT log', { ctlog: { validFor: { start: null } } }, 'ctlogs[0]'],
    ['a TSA', { tsa: { validFor: { start: null } } }, 'timestampAuthorities[0]'],
  ] as [string, InstanceOptions, string][])(
    'when %s has a validity window without a start',
    (_what, options, path) => {
      it('refuses the root with PARSE_ERROR naming the authority: a missing start is not "always"', () => {
        const error = refusal(() => testInstance(options).trustRoot);
        expect(error.code).toBe('PARSE_ERROR');
        expect(error.message).toContain(`${path} has no validFor.start`);
      });
    },
  );

  it('refuses a log key with no validity window at all', () => {
    const root = structuredClone(testInstance().trustedRoot);
    delete root.tlogs[0]?.publicKey.validFor;
    expect(refusal(() => trustRootFromJson(root)).message).toContain('tlogs[0] has no validFor.start');
  });
});

describe("the root's certificates, encoded once", () => {
  it('give the DER a fresh parse gives, as a copy no caller can alter', () => {
    const root = loadTrustRoot();
    const certs = root.certificateAuthorities.flatMap((authority) => authority.certChain);
    expect(certs.length).toBeGreaterThan(0);
    for (const cert of certs) {
      const der = cert.root.toDER();
      const fresh = X509Certificate.parse(Buffer.from(der));
      expect(der.equals(fresh.root.toDER())).toBe(true);
      expect(cert.tbsCertificate.toDER().equals(fresh.tbsCertificate.toDER())).toBe(true);
      expect(cert.publicKey.equals(fresh.publicKey)).toBe(true);
      const key = cert.publicKey;
      key[0] = (key[0] as number) ^ 0xff;
      expect(cert.publicKey.equals(fresh.publicKey)).toBe(true);
      expect(cert.equals(fresh)).toBe(true);
      der[0] = (der[0] as number) ^ 0xff;
      expect(cert.root.toDER().equals(fresh.root.toDER())).toBe(true);
      // The chain still checks: each certificate against its issuer (the next), the root against itself.
    }
    for (const authority of root.certificateAuthorities) {
      const chain = authority.certChain;
      for (const [i, cert] of chain.entries()) expect(cert.verify(chain[i + 1] ?? cert)).toBe(true);
    }
  });
});

describe("the root's own chain, checked once", () => {
  const chainOf = (root: ReturnType<typeof trustRootFromJson>) => {
    const [authority] = root.certificateAuthorities;
    const [intermediate, caRoot] = authority?.certChain ?? [];
    if (!intermediate || !caRoot) throw new Error('the test root has an intermediate and a root');
    return { intermediate, caRoot };
  };

  it('gives the verdicts a fresh parse gives, the false ones too, asked in any order', () => {
    const json = testInstance().trustedRoot;
    const { intermediate, caRoot } = chainOf(trustRootFromJson(json));
    const fresh = chainOf(trustRootFromJson(json));
    for (let round = 0; round < 2; round++) {
      // The root signed itself and the intermediate; the intermediate signed neither.
      expect(caRoot.verify()).toBe(true);
      expect(intermediate.verify(caRoot)).toBe(true);
      expect(caRoot.verify(intermediate)).toBe(false);
      expect(intermediate.verify()).toBe(false);
    }
    expect(X509Certificate.parse(Buffer.from(intermediate.root.toDER())).verify(fresh.caRoot)).toBe(true);
  });

  it('checks an issuer from outside the chain every time, even one with the same name and bytes', () => {
    const json = testInstance().trustedRoot;
    const { intermediate, caRoot } = chainOf(trustRootFromJson(json));
    const rogue = chainOf(trustRootFromJson(testInstance({ name: 'rogue' }).trustedRoot)).caRoot;
    expect(intermediate.verify(rogue)).toBe(false);
    expect(intermediate.verify(caRoot)).toBe(true);
    expect(intermediate.verify(rogue)).toBe(false);
    // The same certificate parsed again is another object: checked, not looked up.
    const twin = X509Certificate.parse(Buffer.from(caRoot.root.toDER()));
    const verify = vi.spyOn(twin, 'publicKey', 'get');
    expect(intermediate.verify(twin)).toBe(true);
    expect(verify).toHaveBeenCalled();
  });

  it('is not carried to another root: a bundle accepted under one is refused under a root that does not trust its CA', () => {
    const bundle = keylessBundle({ content: statement });
    expect(decide(bundle).reasons).toEqual([]);
    const other = testInstance({ name: 'other' });
    const refused = decide(bundle, { trustRoot: other.trustRoot });
    expect(firstSignature(refused)?.error?.code).toBe('CERTIFICATE_INVALID');
    expect(decide(bundle).reasons).toEqual([]);
  });

  it("does not remember time: once the CA's window has closed, the next bundle is refused", () => {
    const instance = testInstance({ ca: { validFor: { end: at(3600) } } });
    const inside = keylessBundle({ instance, content: statement, signedAt: at(60) });
    const after = keylessBundle({ instance, content: statement, signedAt: at(7200) });
    expect(decide(inside, { trustRoot: instance.trustRoot, observedAt: at(120) }).reasons).toEqual([]);
    const refused = decide(after, { trustRoot: instance.trustRoot, observedAt: at(7300) });
    expect(firstSignature(refused)?.error?.code).toBe('CERTIFICATE_INVALID');
  });
});

describe('a certificate chain that carries certificates beyond the leaf (bundles v0.1, v0.2)', () => {
  const bundle = keylessBundle({ content: statement, mediaType: 'v0.1' });
  const withChain = (...authorities: { certificate: { der: Buffer } }[]) =>
    tampered(bundle, (b) => {
      const [leaf] = b.verificationMaterial.x509CertificateChain.certificates;
      b.verificationMaterial.x509CertificateChain.certificates = [
        leaf,
        ...authorities.map((a) => ({ rawBytes: a.certificate.der.toString('base64') })),
      ];
    });

  it('is accepted with its own root too: only the leaf is read, the chain is built from the trusted root', () => {
    const { ca } = testInstance();
    if (!ca) throw new Error('the default test instance has a CA');
    expect(decide(withChain(ca.intermediate, ca.root)).reasons).toEqual([]);
  });

  it("is rejected with CERTIFICATE_INVALID when the leaf's issuer and root it carries are another instance's", () => {
    const rogue = testInstance({ name: 'rogue' });
    const signed = keylessBundle({ content: statement, mediaType: 'v0.1', certificate: { issuer: rogue } });
    const decision = decide(
      tampered(signed, (b) => {
        b.verificationMaterial.x509CertificateChain.certificates.push({
          rawBytes: rogue.ca?.root.certificate.der.toString('base64'),
        });
      }),
    );
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });
});

describe('an inclusion proof without a checkpoint', () => {
  // Bundles v0.2 and later require the checkpoint; a v0.1 bundle may leave it out.
  it('is rejected with TLOG_INVALID (the library would fail on it with a TypeError)', () => {
    const bundle = keylessBundle({ content: statement, mediaType: 'v0.1' });
    const decision = decide(
      tampered(bundle, (b) => {
        delete b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
      }),
    );
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'TLOG_INVALID',
      message: expect.stringMatching(/inclusion proof without a checkpoint/),
    });
  });
});

describe("a log entry proven only by its checkpoint, against its log key's validity window", () => {
  // Timestamped one second after signing: the only verified time of a Rekor v2 entry's signature.
  const rekorV2 = (validFor: { start?: Date; end?: Date }) => {
    const instance = testInstance({ rekorV2: { validFor } });
    const bundle = keylessBundle({
      instance,
      content: statement,
      tlog: { log: 'rekorV2' },
      timestamps: [{}],
    });
    return decide(bundle, { trustRoot: instance.trustRoot });
  };

  it('is accepted inside the window, and at its last second (closed interval)', () => {
    expect(rekorV2({ end: at(60) }).reasons).toEqual([]);
    expect(rekorV2({ end: at(1) }).reasons).toEqual([]);
  });

  it('is rejected with TLOG_INVALID when the key was retired before the signature (a closed shard)', () => {
    const decision = rekorV2({ end: at(0) });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error).toMatchObject({
      code: 'TLOG_INVALID',
      message: expect.stringMatching(/did not vouch for a signature made at 2026-06-01T12:00:01\.000Z/),
    });
  });

  it('is rejected with TLOG_INVALID when the key was trusted only after the signature', () => {
    const decision = rekorV2({ start: at(3600) });
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });
});
