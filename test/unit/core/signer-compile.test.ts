import type { KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type SignerIdentity, type SignerSpec, VouchError } from '#core/index.ts';
import { compileSigner } from '#core/signers.ts';
import { testKey } from '../../helpers/keys.ts';

// One signer entry compiled on its own: the ID that makes two entries one signer, the description a
// rejection quotes, whom it allows and why it refuses a registry key.
const compile = (spec: SignerSpec) => compileSigner(spec, '/signers/release/0', []);
const ISSUER = 'https://token.actions.githubusercontent.com';
const key = (keyId = 'sha256:k'): SignerIdentity => ({ kind: 'key', keyId });
const keyless = (subjectAlternativeName: string, issuer = ISSUER): SignerIdentity => ({
  kind: 'keyless',
  subjectAlternativeName,
  issuer,
});

describe('#compileSigner, keyless entries', () => {
  it('describes an identity with its issuer, and says nothing of the default instance', () => {
    const signer = compile({ issuer: ISSUER, identity: 'a@example.com' });
    expect(signer.description).toBe(`a@example.com (issuer ${ISSUER})`);
    expect(signer.id).toBe(`identity:${ISSUER}|a@example.com`);
    expect(signer.instances).toEqual(['public-good']);
    expect(signer.open).toBe(false);
  });

  it('says nothing of the default instance named on its own either', () => {
    const signer = compile({ issuer: ISSUER, identity: 'a@example.com', instance: ['public-good'] });
    expect(signer.description).toBe(`a@example.com (issuer ${ISSUER})`);
  });

  it('names the instances when they are not the default one alone', () => {
    expect(compile({ issuer: ISSUER, identity: 'a@example.com', instance: 'github' }).description).toBe(
      `a@example.com (issuer ${ISSUER}) on github`,
    );
    const both = compile({ issuer: ISSUER, identity: 'a@example.com', instance: ['public-good', 'github'] });
    expect(both.description).toBe(`a@example.com (issuer ${ISSUER}) on public-good, github`);
    expect(both.id).toBe(`identity:${ISSUER}|a@example.com on public-good, github`);
  });

  it('describes an identity pattern as it is applied, anchored', () => {
    const signer = compile({ issuer: ISSUER, identityRegexp: 'https://github\\.com/acme/.+' });
    expect(signer.description).toBe(
      `identity matching /^(?:https://github\\.com/acme/.+)$/ (issuer ${ISSUER})`,
    );
    expect(signer.open).toBe(true);
    expect(signer.allows(keyless('https://github.com/acme/app'), {})).toBe(true);
    expect(signer.allows(keyless('https://github.com/acme/'), {})).toBe(false);
    expect(signer.allows(keyless('https://github.com/acme/app', 'https://other.example'), {})).toBe(false);
  });

  it('quotes the pattern as written when it does not compile as a Unicode pattern', () => {
    // `\-` is a pattern without the `u` flag, and not one with it.
    expect(() => compile({ issuer: ISSUER, identityRegexp: 'a\\-b' })).toThrow(
      expect.objectContaining({
        code: 'PARSE_ERROR',
        message: expect.stringMatching(/^\/signers\/release\/0\/identityRegexp: .*\/a\\-b\/u/),
      }),
    );
  });

  it('lists the certificate claims it requires in its description and ID, and none when it requires none', () => {
    const signer = compile({
      issuer: ISSUER,
      identity: 'a@example.com',
      sourceRepository: 'https://github.com/acme/app',
      sourceRef: 'refs/tags/v*',
      sourceDigest: 'a'.repeat(40),
      signerWorkflow: 'https://github.com/acme/app/.github/workflows/release.yml@*',
      runnerEnvironment: 'github-hosted',
    });
    const claims =
      ', source https://github.com/acme/app, ref refs/tags/v*, commit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, workflow https://github.com/acme/app/.github/workflows/release.yml@*, runner github-hosted';
    expect(signer.description).toBe(`a@example.com (issuer ${ISSUER})${claims}`);
    expect(signer.id).toBe(`identity:${ISSUER}|a@example.com${claims}`);
    expect(
      compile({ issuer: ISSUER, identity: 'a@example.com', runnerEnvironment: 'github-hosted' }).description,
    ).toBe(`a@example.com (issuer ${ISSUER}), runner github-hosted`);
  });
});

describe('#compileSigner, key entries', () => {
  it('describes a policy public key by its key ID', () => {
    const { publicKeyPem, keyId } = testKey();
    const inlineKeys: { keyId: string; publicKey: KeyObject }[] = [];
    const signer = compileSigner({ publicKey: publicKeyPem }, '/signers/release/0', inlineKeys);
    expect(signer.description).toBe(`key ${keyId}`);
    expect(signer.id).toBe(`key:${keyId}`);
    expect(inlineKeys.map((k) => k.keyId)).toEqual([keyId]);
  });

  it('names the entry when its public key is not PEM', () => {
    expect(() => compile({ publicKey: 'not a key' })).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/^\/signers\/release\/0\.publicKey: not a PEM public key/),
      }),
    );
    expect(() => compile({ publicKey: 'not a key' })).toThrow(VouchError);
  });
});

describe('#compileSigner, registry entries', () => {
  const registry = { keyOrigin: 'registry', keyPurpose: 'signing' } as const;

  it('`registry: true`: a key of the pipeline owning the object key, or of any pipeline where none are configured', () => {
    const signer = compile({ registry: true });
    expect(signer.id).toBe('registry');
    expect(signer.description).toBe('a key of the pipeline that owns the object key');
    expect(signer.open).toBe(true);
    expect(signer.allows(key(), { ...registry, keyPipeline: 'app', owner: 'app' })).toBe(true);
    expect(signer.allows(key(), { ...registry, keyPipeline: 'app', owner: undefined })).toBe(true);
    expect(signer.allows(key(), { ...registry, keyPipeline: 'app', owner: 'web' })).toBe(false);
    expect(signer.allows(key(), { ...registry, keyPipeline: 'app', owner: null })).toBe(false);
  });

  it('allows no key from elsewhere, no keyless signer and no summary key', () => {
    const signer = compile({ registry: true });
    expect(signer.allows(key(), { keyOrigin: 'other', owner: undefined })).toBe(false);
    expect(signer.allows(keyless('a@example.com'), { owner: undefined })).toBe(false);
    expect(signer.allows(key(), { ...registry, keyPurpose: 'vsa', keyPipeline: 'app', owner: 'app' })).toBe(
      false,
    );
  });

  it('explains each refusal of a registry key, and nothing of other signers or of an allowed key', () => {
    const signer = compile({ registry: true });
    const explain = (s: SignerIdentity, context: Parameters<typeof signer.allows>[1]) =>
      signer.explain?.(s, context);
    expect(explain(keyless('a@example.com'), registry)).toBeUndefined();
    expect(explain(key(), { keyOrigin: 'other', keyPipeline: 'app', owner: 'web' })).toBeUndefined();
    expect(explain(key(), { ...registry, keyPurpose: 'vsa', keyPipeline: 'app' })).toBe(
      'key signs verification summaries, never artifacts',
    );
    expect(explain(key(), { ...registry, owner: 'web' })).toBe('key belongs to no pipeline');
    expect(explain(key(), { ...registry, keyPipeline: 'app', owner: 'web' })).toBe(
      'pipeline does not own this object key (pipeline web does)',
    );
    expect(explain(key(), { ...registry, keyPipeline: 'app', owner: null })).toBe(
      "pipeline's scope does not hold this object key (no pipeline's does)",
    );
    expect(explain(key(), { ...registry, keyPipeline: 'app', owner: undefined })).toBeUndefined();
  });

  it('`registry: { pipeline }`: a key of that pipeline wherever the object key is', () => {
    const signer = compile({ registry: { pipeline: 'release' } });
    expect(signer.id).toBe('registry:release');
    expect(signer.description).toBe('a key of pipeline release');
    expect(signer.pipeline).toBe('release');
    expect(signer.open).toBe(false);
    expect(signer.allows(key(), { ...registry, keyPipeline: 'release', owner: 'app' })).toBe(true);
    expect(signer.allows(key(), { ...registry, keyPipeline: 'app', owner: 'app' })).toBe(false);
    expect(signer.explain?.(key(), { ...registry, keyPipeline: 'app' })).toBe('pipeline is not release');
    expect(signer.explain?.(key(), registry)).toBe('key belongs to no pipeline');
  });
});
