import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyIdOf, loadPolicySyntax, parsePolicy, policyDigest, VouchError } from '#core/index.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const valid = `
version: 1
signers:
  release:
    - registry: true
    - issuer: https://token.actions.githubusercontent.com
      identityRegexp: https://github\\.com/acme/.+
rules:
  - name: releases
    match: ["releases/**"]
    exclude: ["releases/tmp/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [release]
`;

const errorOf = (text: string) => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return (error as VouchError).message;
  }
  throw new Error('expected the policy to be refused');
};

describe('#parsePolicy', () => {
  it('compiles a valid YAML policy with globs, exclusions and a digest of its bytes', () => {
    const policy = parsePolicy(valid);
    expect(policy.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(policy.rules[0]?.matches('releases/v1/app.tar.gz')).toBe(true);
    expect(policy.rules[0]?.matches('releases/tmp/x')).toBe(false);
    expect(policy.rules[0]?.matches('docs/x')).toBe(false);
    expect(policy.rules[0]?.mode).toBe('enforce');
  });

  describe('when synth validated the file already (schemaValidated: its digest)', () => {
    // A key the schema refuses but compiling ignores shows which check ran.
    const unchecked = `${valid}\nextra: 1`;

    it('only compiles exactly those bytes', () => {
      const policy = parsePolicy(unchecked, 'policy.yaml', { schemaValidated: policyDigest(unchecked) });
      expect(policy.digest).toBe(policyDigest(unchecked));
      expect(policy.rules[0]?.matches('releases/v1/app.tar.gz')).toBe(true);
    });

    it('validates any other bytes as ever', () => {
      expect(() => parsePolicy(unchecked, 'policy.yaml', { schemaValidated: policyDigest(valid) })).toThrow(
        /unknown key "extra"/,
      );
    });
  });

  it('accepts the same policy written as JSON', () => {
    const policy = parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [{ name: 'a', match: ['**'], require: [{ type: 'x', signers: [{ registry: true }] }] }],
      }),
    );
    expect(policy.rules).toHaveLength(1);
  });

  it.each([
    ['a missing version', 'rules: []', /must have required property 'version'/],
    [
      'an unknown field, named with the keys allowed there',
      `${valid}\nextra: 1`,
      /\(root\) has an unknown key "extra"; allowed there: version, mode, noMatch, signers, rules/,
    ],
    [
      'an unknown requirement field',
      valid.replace('signers: [release]', 'signers: [release]\n        treshold: 2'),
      /\/rules\/0\/require\/0 has an unknown key "treshold"; allowed there: type, signers, threshold,/,
    ],
    [
      'a signer entry of no known shape',
      valid.replace('- registry: true', '- issuer: https://token.actions.githubusercontent.com'),
      /\/signers\/release\/0 is not a signer: write \{ registry: true \}, .*; found keys issuer/,
    ],
    [
      'a bad mode',
      valid.replace('version: 1', 'version: 1\nmode: warn'),
      /\/mode must be equal to one of the allowed values/,
    ],
    [
      'an unknown signer group',
      valid.replace('signers: [release]', 'signers: [nobody]'),
      /unknown signer group "nobody"/,
    ],
    ['an invalid regexp', valid.replace('https://github\\.com/acme/.+', '(('), /identityRegexp/],
    [
      'an invalid PEM key',
      valid.replace('- registry: true', '- publicKey: not-a-key'),
      /not a PEM public key/,
    ],
    ['invalid YAML', 'version: [1', /not valid YAML/],
    [
      'a zero threshold',
      valid.replace('signers: [release]', 'signers: [release]\n        threshold: 0'),
      /threshold must be >= 1/,
    ],
  ])('refuses %s with a message that says where', (_what, text, message) => {
    expect(errorOf(text)).toMatch(message);
  });

  it('refuses YAML alias bombs', () => {
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nversion: 1\nrules: []`;
    expect(errorOf(bomb)).toMatch(/not valid YAML/);
  });
});

describe('#parsePolicy, refusing what would widen trust', () => {
  const withSigner = (signer: string) => `
version: 1
rules:
  - name: r
    match: ["**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [${signer}]
`;

  describe('when an identity pattern does not compile on its own', () => {
    it('refuses `x)|(?:.*`, which the anchors would turn into "allow everyone", naming its path', () => {
      const message = errorOf(
        withSigner('{ issuer: "https://token.actions.githubusercontent.com", identityRegexp: "x)|(?:.*" }'),
      );
      expect(message).toMatch(/\/rules\/0\/require\/0\/signers\/0\/identityRegexp/);
    });
  });

  describe('when a requirement lists one signer twice', () => {
    it('refuses one key listed directly and again through a group', () => {
      const text = `
version: 1
signers:
  release: [{ keyId: "arn:aws:kms:us-east-1:000000000000:key/a" }]
rules:
  - name: r
    match: ["**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [release, { keyId: "arn:aws:kms:us-east-1:000000000000:key/a" }]
`;
      expect(errorOf(text)).toMatch(/lists key arn:aws:kms:us-east-1:000000000000:key\/a twice/);
    });

    it('refuses one EC key written once compressed and once uncompressed', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const uncompressed = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const compressed = compressedPem(publicKey);
      expect(compressed).not.toBe(uncompressed);
      const text = `
version: 1
rules:
  - name: r
    match: ["**"]
    require:
      - type: https://slsa.dev/provenance/v1
        threshold: 2
        signers:
          - publicKey: ${JSON.stringify(uncompressed)}
          - publicKey: ${JSON.stringify(compressed)}
`;
      expect(errorOf(text)).toMatch(/twice/);
    });
  });

  describe('when a check cannot apply to every type a requirement accepts', () => {
    it.each([
      [
        'builderIds with plain signatures',
        'type: [https://slsa.dev/provenance/v1, signature]',
        'builderIds: [b]',
      ],
      ['builderIds with any type', 'type: "*"', 'builderIds: [b]'],
      [
        'sourceRepositories with an SBOM type',
        'type: [https://slsa.dev/provenance/v1, https://spdx.dev/Document]',
        'sourceRepositories: [s]',
      ],
      ['requireSubjectName with plain signatures', 'type: signature', 'requireSubjectName: true'],
      ['requireSubjectName with any type', 'type: "*"', 'requireSubjectName: true'],
    ])('refuses %s', (_what, type, check) => {
      const text = `
version: 1
rules:
  - name: r
    match: ["**"]
    require:
      - ${type}
        signers: [{ registry: true }]
        ${check}
`;
      expect(errorOf(text)).toMatch(/\/rules\/0\/require\/0: /);
    });
  });
});

describe('#keyIdOf', () => {
  it('gives an EC key one ID whether its point is written compressed or not', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(keyIdOf(createPublicKey(compressedPem(publicKey)))).toBe(keyIdOf(publicKey));
  });
});

/** The same P-256 public key as PEM with a compressed point (0x02/0x03 || x). */
function compressedPem(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  const prefix = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
  const der = Buffer.concat([prefix, Buffer.from([2 + ((y.at(-1) ?? 0) & 1)]), x]);
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
}

describe('object-key globs', () => {
  const withMatch = (match: string, exclude?: string) => `
version: 1
rules:
  - name: r
    match: [${JSON.stringify(match)}]
    ${exclude ? `exclude: [${JSON.stringify(exclude)}]` : ''}
    require: [{ type: https://slsa.dev/provenance/v1, signers: [{ registry: true }] }]
`;

  it.each([
    ['a non-NFC pattern (it could never match an NFC key)', 'releases/cafe\u0301/**', /normal form C/],
    ['an extended glob', 'releases/@(a|b)/**', /extended glob/],
    ['a negation', '!releases/**', /negation/],
    ['an empty segment', 'releases//**', /empty, "\." or "\.\." segment/],
    ['a dot-dot segment', 'releases/../**', /segment/],
    ['a backslash', 'releases\\\\*', /backslash/],
    ['a bidirectional control', 'releases/\u202E/**', /bidirectional/],
    ['a zero-width space', 'releases/app\u200B/**', /invisible/],
  ])('refuses %s, naming its path', (_what, pattern, message) => {
    const error = errorOf(withMatch(pattern));
    expect(error).toMatch(/\/rules\/0\/match\/0/);
    expect(error).toMatch(message);
  });

  it('excludes dotfiles as it includes them', () => {
    const [rule] = parsePolicy(withMatch('releases/**', 'releases/tmp/**')).rules;
    expect(rule?.matches('releases/.hidden/app')).toBe(true);
    expect(rule?.matches('releases/tmp/.hidden')).toBe(false);
    expect(rule?.matches('releases/tmp/app')).toBe(false);
  });

  it('matches parentheses and bars literally, as they are in object keys', () => {
    const [rule] = parsePolicy(withMatch('releases/app(1).tar.gz')).rules;
    expect(rule?.matches('releases/app(1).tar.gz')).toBe(true);
    expect(rule?.matches('releases/app1.tar.gz')).toBe(false);
    const [bar] = parsePolicy(withMatch('releases/a|b')).rules;
    expect(bar?.matches('releases/a|b')).toBe(true);
    expect(bar?.matches('releases/a')).toBe(false);
  });
});
