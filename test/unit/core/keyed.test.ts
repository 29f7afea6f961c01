import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Attestation,
  compilePolicy,
  createStatement,
  type Decision,
  evaluate,
  type PolicySpec,
  parseAttestationFile,
  type SignerSpec,
  signStatement,
  staticKeyLookup,
  type TrustedKey,
} from '#core/index.ts';
import { type TestKey, testKey } from '../../helpers/keys.ts';

const PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
const BUILDER =
  'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml';
const artifactBytes = Buffer.from('release bits');
const sha256 = createHash('sha256').update(artifactBytes).digest('hex');
const artifact = { path: 'releases/app.tar.gz', digests: { sha256 } };
const T0 = new Date('2026-06-01T00:00:00Z');
const hours = (n: number) => new Date(T0.getTime() + n * 3_600_000);

const provenance = (
  builderId = `${BUILDER}@refs/tags/v2.0.0`,
  repository = 'https://github.com/acme/app',
) => ({
  buildDefinition: {
    buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
    externalParameters: {
      workflow: { ref: 'refs/heads/main', repository, path: '.github/workflows/release.yml' },
    },
    resolvedDependencies: [
      { uri: `git+${repository}@refs/heads/main`, digest: { gitCommit: 'a'.repeat(40) } },
    ],
  },
  runDetails: { builder: { id: builderId } },
});

async function attest(
  key: TestKey,
  options: { digest?: string; predicate?: Record<string, unknown>; type?: string } = {},
) {
  const statement = createStatement(
    [{ name: 'app.tar.gz', digests: { sha256: options.digest ?? sha256 } }],
    options.type ?? PROVENANCE_V1,
    options.predicate ?? provenance(),
  );
  return JSON.stringify(await signStatement(statement, key.sign));
}

function policy(
  require: Partial<PolicySpec['rules'][number]['require'][number]> & { signers: (string | SignerSpec)[] },
  extra: Partial<PolicySpec> = {},
) {
  return compilePolicy(
    {
      version: 1,
      ...extra,
      rules: [{ name: 'releases', match: ['releases/**'], require: [{ type: PROVENANCE_V1, ...require }] }],
    },
    'sha256:test',
  );
}

function decide(
  files: string[],
  keys: TrustedKey[],
  spec = policy({ signers: [{ registry: true }] }),
  observedAt = hours(1),
  path = artifact.path,
) {
  const attestations: Attestation[] = files.flatMap(
    (file, i) => parseAttestationFile(file, `att${i}.sigstore.json`).attestations,
  );
  return evaluate({
    artifact: { path, digests: artifact.digests },
    attestations,
    policy: spec,
    keys: staticKeyLookup(keys),
    observedAt,
  });
}

/**
 * In the pipeline (not strict), what failed to verify or came from a signer nobody allows is a note: the
 * verdict waits (MISSING_ATTESTATION, curable) for an allowed signer's attestation.
 */
function noted(decision: Decision): string[] {
  expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
  expect(decision.curable).toBe(true);
  return decision.notes.map((r) => r.code);
}

const registryKey = (key: TestKey, window: Partial<TrustedKey> = {}) =>
  key.trusted({ origin: 'registry', validFrom: T0, ...window });

describe('keyed DSSE bundles (vouch sign output)', () => {
  const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/1111');

  it('accepts a registry key inside its window and reports the KMS key ARN', async () => {
    const decision = decide([await attest(key)], [registryKey(key)]);
    expect(decision.reasons).toEqual([]);
    expect(decision.accepted).toBe(true);
    expect(decision.keyIds).toEqual([key.keyId]);
    expect(decision.attestations[0]?.signatures[0]?.timeSource).toBe('observed');
  });

  it('verifies RSA keys (PKCS#1 v1.5, SHA-256)', async () => {
    const rsa = testKey('rsa', 'arn:aws:kms:us-east-1:000000000000:key/rsa');
    expect(decide([await attest(rsa)], [registryKey(rsa)]).accepted).toBe(true);
  });

  // @sigstore/verify 4.x (as 3.x) checks DSSE signatures with SHA-256 whatever the curve, and KMS signs
  // P-384 only with SHA-384: such signatures cannot verify, so Vouch signs with P-256. Never a silent pass.
  it('rejects P-384/SHA-384 DSSE signatures with SIGNATURE_INVALID', async () => {
    const p384 = testKey('p384', 'arn:aws:kms:us-east-1:000000000000:key/p384');
    const decision = decide([await attest(p384)], [registryKey(p384)]);
    expect(decision.accepted).toBe(false);
    expect(noted(decision)).toContain('SIGNATURE_INVALID');
  });

  describe('when the signing key is unknown', () => {
    it('rejects with UNKNOWN_KEY', async () => {
      const stranger = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/9999');
      const decision = decide([await attest(stranger)], [registryKey(key), registryKey(testKey())]);
      expect(decision.accepted).toBe(false);
      expect(noted(decision)).toContain('UNKNOWN_KEY');
      expect(decision.notes.find((r) => r.code === 'UNKNOWN_KEY')?.message).toBe(
        'no trusted key matches key hint "arn:aws:kms:us-east-1:000000000000:key/9999"',
      );
    });
  });

  describe('when the hint names a trusted key but another key signed', () => {
    it('rejects with SIGNATURE_INVALID', async () => {
      const impostor = testKey('p256', key.keyId);
      const decision = decide([await attest(impostor)], [registryKey(key), registryKey(testKey())]);
      expect(noted(decision)).toContain('SIGNATURE_INVALID');
    });
  });

  describe('key validity at the trusted signing time', () => {
    it('accepts a retired key for a signature observed inside its window (signed before a rotation)', async () => {
      const retired = registryKey(key, { status: 'retired', validUntil: hours(24) });
      expect(decide([await attest(key)], [retired], undefined, hours(23)).accepted).toBe(true);
    });

    it('rejects a signature observed after the window with KEY_NOT_VALID_AT_TIME', async () => {
      const retired = registryKey(key, { status: 'retired', validUntil: hours(24) });
      const decision = decide([await attest(key)], [retired], undefined, hours(25));
      expect(decision.accepted).toBe(false);
      expect(noted(decision)).toContain('KEY_NOT_VALID_AT_TIME');
    });

    it('rejects a signature observed before the key existed', async () => {
      const decision = decide([await attest(key)], [registryKey(key)], undefined, hours(-1));
      expect(noted(decision)).toContain('KEY_NOT_VALID_AT_TIME');
    });

    it('rejects a signature at or after the revocation effective time with KEY_REVOKED', async () => {
      const revoked = registryKey(key, {
        status: 'revoked',
        revokedAt: hours(5),
        revocationReason: 'leaked',
      });
      const atEffective = decide([await attest(key)], [revoked], undefined, hours(5));
      expect(noted(atEffective)).toContain('KEY_REVOKED');
      expect(atEffective.notes.find((r) => r.code === 'KEY_REVOKED')?.message).toContain('leaked');
    });

    it('accepts a signature observed before the revocation effective time', async () => {
      const revoked = registryKey(key, { status: 'revoked', revokedAt: hours(5) });
      expect(decide([await attest(key)], [revoked], undefined, hours(4)).accepted).toBe(true);
    });
  });

  describe('signer policy', () => {
    it('does not let a key outside the registry satisfy { registry: true }', async () => {
      const decision = decide([await attest(key)], [key.trusted()]);
      expect(noted(decision)).toContain('SIGNER_NOT_ALLOWED');
    });

    it('accepts a key written into the policy as PEM, with no other trust', async () => {
      const inline = testKey();
      const decision = decide(
        [await attest(inline)],
        [],
        policy({ signers: [{ publicKey: inline.publicKeyPem }] }),
      );
      expect(decision.accepted).toBe(true);
      expect(decision.keyIds).toEqual([inline.keyId]);
    });

    it('accepts a specific key ID and refuses another registry key', async () => {
      const other = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/2222');
      const spec = policy({ signers: [{ keyId: key.keyId }] });
      expect(decide([await attest(key)], [registryKey(key), registryKey(other)], spec).accepted).toBe(true);
      expect(decide([await attest(other)], [registryKey(key), registryKey(other)], spec).accepted).toBe(
        false,
      );
    });
  });

  describe('thresholds (k of n distinct signers)', () => {
    const second = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/2222');
    const keys = () => [registryKey(key), registryKey(second)];
    const twoOf = policy({ signers: [{ keyId: key.keyId }, { keyId: second.keyId }], threshold: 2 });

    it('accepts two attestations by two distinct keys', async () => {
      expect(decide([await attest(key), await attest(second)], keys(), twoOf).accepted).toBe(true);
    });

    it('counts the same signature uploaded twice once (THRESHOLD_NOT_MET)', async () => {
      const once = await attest(key);
      const decision = decide([once, once], keys(), twoOf);
      expect(decision.accepted).toBe(false);
      expect(decision.reasons[0]?.code).toBe('THRESHOLD_NOT_MET');
    });

    it('counts a DSSE envelope carrying the same key twice once', async () => {
      const bundle = JSON.parse(await attest(key));
      const envelope = {
        ...bundle.dsseEnvelope,
        signatures: [bundle.dsseEnvelope.signatures[0], bundle.dsseEnvelope.signatures[0]],
      };
      const decision = decide([JSON.stringify(envelope)], keys(), twoOf);
      expect(decision.accepted).toBe(false);
      expect(decision.reasons[0]?.code).toBe('THRESHOLD_NOT_MET');
    });

    // What the artifact waits for says what is missing: co-signers (THRESHOLD_NOT_MET) or an attestation.
    it.each([
      [
        'two required, none there',
        2,
        0,
        'THRESHOLD_NOT_MET',
        /signed by 2 distinct allowed signer\(s\); found 0/,
      ],
      [
        'two required, one there',
        2,
        1,
        'THRESHOLD_NOT_MET',
        /signed by 2 distinct allowed signer\(s\); found 1/,
      ],
      ['one required, none there', 1, 0, 'MISSING_ATTESTATION', /none was found for this artifact/],
    ] as const)('waits with the right reason: %s', async (_what, threshold, present, code, message) => {
      const spec = policy({ signers: [{ keyId: key.keyId }, { keyId: second.keyId }], threshold });
      const files = present > 0 ? [await attest(key)] : [];
      const decision = decide(files, keys(), spec);
      expect(decision).toMatchObject({ accepted: false, curable: true });
      expect(decision.reasons.map((r) => r.code)).toEqual([code]);
      expect(decision.reasons[0]?.message).toMatch(message);
    });

    it('says how many attestations of the type were found when none verified', async () => {
      const stranger = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/stranger');
      const spec = policy({ signers: [{ keyId: key.keyId }] });
      const decision = decide([await attest(stranger)], keys(), spec);
      expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
      expect(decision.reasons[0]?.message).toMatch(/by an allowed signer; 1 found, none verified/);
    });

    it('refuses at load time a threshold that the listed signers can never meet', () => {
      expect(() => policy({ signers: [{ keyId: key.keyId }], threshold: 2 })).toThrow(/can never be met/);
    });
  });

  describe('SLSA provenance checks', () => {
    it('accepts an allowed builder given without a ref (any ref of it)', async () => {
      const spec = policy({
        signers: [{ registry: true }],
        builderIds: [BUILDER],
        sourceRepositories: ['https://github.com/acme/app'],
      });
      expect(decide([await attest(key)], [registryKey(key)], spec).accepted).toBe(true);
    });

    it('rejects another builder with BUILDER_NOT_ALLOWED', async () => {
      const spec = policy({ signers: [{ registry: true }], builderIds: [BUILDER] });
      const decision = decide(
        [await attest(key, { predicate: provenance('https://evil.example/builder@v1') })],
        [registryKey(key)],
        spec,
      );
      expect(decision.reasons.map((r) => r.code)).toContain('BUILDER_NOT_ALLOWED');
    });

    it('rejects a builder that only shares a prefix with the allowed one', async () => {
      const spec = policy({ signers: [{ registry: true }], builderIds: [BUILDER] });
      const decision = decide(
        [await attest(key, { predicate: provenance(`${BUILDER}-evil@v1`) })],
        [registryKey(key)],
        spec,
      );
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r) => r.code)).toEqual(['BUILDER_NOT_ALLOWED', 'MISSING_ATTESTATION']);
    });

    it('rejects another source repository with SOURCE_NOT_ALLOWED', async () => {
      const spec = policy({
        signers: [{ registry: true }],
        sourceRepositories: ['https://github.com/acme/app'],
      });
      const decision = decide(
        [await attest(key, { predicate: provenance(undefined, 'https://github.com/acme/app-fork') })],
        [registryKey(key)],
        spec,
      );
      expect(decision.reasons.map((r) => r.code)).toContain('SOURCE_NOT_ALLOWED');
    });

    it('does not count a dependency as the source: a fork listing the real repository fails', async () => {
      const spec = policy({
        signers: [{ registry: true }],
        sourceRepositories: ['https://github.com/acme/app'],
      });
      const fork = provenance(undefined, 'https://github.com/evil/fork');
      const dependsOnReal = {
        ...fork,
        buildDefinition: {
          ...fork.buildDefinition,
          resolvedDependencies: [{ uri: 'git+https://github.com/acme/app@refs/heads/main' }],
        },
      };
      const decision = decide([await attest(key, { predicate: dependsOnReal })], [registryKey(key)], spec);
      expect(decision.reasons.map((r) => r.code)).toEqual(['SOURCE_NOT_ALLOWED', 'MISSING_ATTESTATION']);
    });

    // A provenance that names no source of its own must not pass for the allowed one: it is refused with
    // SOURCE_NOT_ALLOWED saying why it has none, whatever its dependencies list.
    it.each([
      ['an unknown build type', { buildType: 'https://ci.example/unknown/v1' }, /does not say which field/],
      ['no workflow repository', { externalParameters: {} }, /externalParameters\.workflow\.repository/],
    ])('rejects a provenance with %s (no source) with SOURCE_NOT_ALLOWED', async (_what, change, why) => {
      const spec = policy({
        signers: [{ registry: true }],
        sourceRepositories: ['https://github.com/acme/app'],
      });
      const base = provenance();
      const predicate = { ...base, buildDefinition: { ...base.buildDefinition, ...change } };
      const decision = decide([await attest(key, { predicate })], [registryKey(key)], spec);
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r) => r.code)).toEqual(['SOURCE_NOT_ALLOWED', 'MISSING_ATTESTATION']);
      expect(decision.reasons[0]?.message).toMatch(why);
    });

    it('reads builder and source from SLSA provenance v0.2', async () => {
      const spec = compilePolicy(
        {
          version: 1,
          rules: [
            {
              name: 'r',
              match: ['**'],
              require: [
                {
                  type: 'https://slsa.dev/provenance/v0.2',
                  signers: [{ registry: true }],
                  builderIds: [BUILDER],
                  sourceRepositories: ['https://github.com/acme/app'],
                },
              ],
            },
          ],
        },
        'sha256:test',
      );
      const predicate = {
        builder: { id: `${BUILDER}@refs/tags/v1.9.0` },
        buildType: 'https://github.com/slsa-framework/slsa-github-generator/generic@v1',
        invocation: {
          configSource: { uri: 'git+https://github.com/acme/app@refs/heads/main', entryPoint: 'release.yml' },
        },
      };
      const file = await attest(key, { type: 'https://slsa.dev/provenance/v0.2', predicate });
      expect(decide([file], [registryKey(key)], spec).accepted).toBe(true);
    });
  });

  describe('rules and modes', () => {
    it('rejects a path no rule matches with NO_MATCHING_RULE', async () => {
      const decision = decide(
        [await attest(key)],
        [registryKey(key)],
        undefined,
        hours(1),
        'other/app.tar.gz',
      );
      expect(decision.reasons.map((r) => r.code)).toEqual(['NO_MATCHING_RULE']);
    });

    it('accepts and flags a failing artifact in audit mode', async () => {
      const spec = policy({ signers: [{ registry: true }] }, { mode: 'audit' });
      const decision = decide([await attest(key, { digest: 'f'.repeat(64) })], [registryKey(key)], spec);
      expect(decision).toMatchObject({ accepted: true, verdict: 'fail', mode: 'audit' });
      expect(decision.reasons.length).toBeGreaterThan(0);
    });

    it.each([
      'releases/../secrets/key',
      'releases//app',
      '/releases/app',
      'releases\\app',
      'releases/app\u202Egz.exe',
      'releases/cafe\u0301.tar.gz',
      'releases/app\u0000',
      `releases/${'a'.repeat(1100)}`,
    ])('refuses the hostile key %j with INVALID_PATH, even in audit mode', async (path) => {
      const spec = policy({ signers: [{ registry: true }] }, { mode: 'audit' });
      const decision = decide([await attest(key)], [registryKey(key)], spec, hours(1), path);
      expect(decision).toMatchObject({ accepted: false, verdict: 'fail' });
      expect(decision.reasons.map((r) => r.code)).toEqual(['INVALID_PATH']);
    });

    it('does not match a look-alike prefix (division slash instead of /)', async () => {
      const decision = decide(
        [await attest(key)],
        [registryKey(key)],
        undefined,
        hours(1),
        'releases\u2215app.tar.gz',
      );
      expect(decision.reasons.map((r) => r.code)).toEqual(['NO_MATCHING_RULE']);
    });

    describe('when an audit rule and an enforce rule both match', () => {
      const both = (auditBuilder: string) =>
        compilePolicy(
          {
            version: 1,
            rules: [
              {
                name: 'enforced',
                match: ['releases/**'],
                require: [{ type: PROVENANCE_V1, signers: [{ registry: true }] }],
              },
              {
                name: 'trial',
                match: ['releases/**'],
                mode: 'audit',
                require: [{ type: PROVENANCE_V1, signers: [{ registry: true }], builderIds: [auditBuilder] }],
              },
            ],
          },
          'sha256:test',
        );

      it("promotes on the enforce rule and records the audit rule's failure, flagged", async () => {
        const decision = decide(
          [await attest(key)],
          [registryKey(key)],
          both('https://other.example/builder'),
        );
        expect(decision).toMatchObject({ accepted: true, verdict: 'pass', mode: 'enforce', reasons: [] });
        expect(decision.auditReasons?.map((r) => r.code)).toContain('BUILDER_NOT_ALLOWED');
      });

      it('still rejects on the enforce rule: the audit rule does not turn it into audit', async () => {
        const decision = decide([], [registryKey(key)], both(BUILDER));
        expect(decision).toMatchObject({ accepted: false, verdict: 'fail', mode: 'enforce' });
        expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
      });
    });

    it('counts two keys of one alias (before and after a rotation) as one signer', async () => {
      const rotated = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/rotated');
      const alias = 'alias/vouch-signing/app';
      const spec = policy({ signers: [{ registry: true }], threshold: 2 });
      const keys = [registryKey(key, { alias }), registryKey(rotated, { alias })];
      const decision = decide([await attest(key), await attest(rotated)], keys, spec);
      expect(decision.accepted).toBe(false);
      expect(decision.reasons[0]?.code).toBe('THRESHOLD_NOT_MET');
      const twoAliases = [
        registryKey(key, { alias }),
        registryKey(rotated, { alias: 'alias/vouch-signing/other' }),
      ];
      expect(decide([await attest(key), await attest(rotated)], twoAliases, spec).accepted).toBe(true);
    });

    it('records the policy digest in every decision', async () => {
      expect(decide([await attest(key)], [registryKey(key)]).policyDigest).toBe('sha256:test');
    });
  });

  describe('who may decide (junk never vetoes)', () => {
    const stranger = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/stranger');

    it('ignores a failing statement by a key the requirement does not allow: the artifact waits', async () => {
      const spec = policy({ signers: [{ keyId: key.keyId }], builderIds: [BUILDER] });
      const junk = await attest(stranger, { predicate: provenance('https://evil.example/builder@v1') });
      const decision = decide([junk], [registryKey(key), registryKey(stranger)], spec);
      expect(decision).toMatchObject({ accepted: false, curable: true });
      expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
      expect(decision.notes.map((r) => r.code)).toEqual(['SIGNER_NOT_ALLOWED']);
    });

    it('accepts when the allowed signer arrives next to that junk', async () => {
      const spec = policy({ signers: [{ keyId: key.keyId }], builderIds: [BUILDER] });
      const junk = await attest(stranger, { predicate: provenance('https://evil.example/builder@v1') });
      const decision = decide([junk, await attest(key)], [registryKey(key), registryKey(stranger)], spec);
      expect(decision.accepted).toBe(true);
    });

    it('ignores signatures that do not verify, even when they name an allowed key', async () => {
      const impostor = testKey('p256', key.keyId);
      const decision = decide([await attest(impostor), await attest(key)], [registryKey(key)]);
      expect(decision.accepted).toBe(true);
      expect(decision.notes.map((r) => r.code)).toContain('SIGNATURE_INVALID');
    });

    it('rejects for good what an allowed signer says against the artifact (a disallowed builder)', async () => {
      const spec = policy({ signers: [{ keyId: key.keyId }], builderIds: [BUILDER] });
      const decision = decide(
        [await attest(key, { predicate: provenance('https://evil.example/builder@v1') })],
        [registryKey(key)],
        spec,
      );
      expect(decision).toMatchObject({ accepted: false, curable: false });
      expect(decision.reasons[0]?.code).toBe('BUILDER_NOT_ALLOWED');
    });

    it('rejects for good an allowed signer’s statement about other bytes, stating it once: a reason, not also a note', async () => {
      const tampered = createStatement(
        [{ name: 'app.tar.gz', digests: { sha256: 'f'.repeat(64) } }],
        PROVENANCE_V1,
        provenance(),
      );
      // Beside the artifact: its own pipeline's word about it (a statement found by digest never names it).
      const [attestation] = parseAttestationFile(
        JSON.stringify(await signStatement(tampered, key.sign)),
        'app.tar.gz.sigstore.json',
      ).attestations;
      if (!attestation) throw new Error('the statement parses');
      attestation.beside = true;
      const decision = evaluate({
        artifact,
        attestations: [attestation],
        policy: policy({ signers: [{ registry: true }] }),
        keys: staticKeyLookup([registryKey(key)]),
        observedAt: hours(1),
      });
      expect(decision).toMatchObject({ accepted: false, curable: false });
      expect(decision.reasons.map((r) => r.code)).toContain('SUBJECT_MISMATCH');
      expect(decision.notes.map((r) => r.code)).not.toContain('SUBJECT_MISMATCH');
    });

    it('does not read the predicate of a signer the requirement does not allow', async () => {
      const spec = policy({
        signers: [{ keyId: key.keyId }],
        sourceRepositories: ['https://github.com/acme/app'],
      });
      const hostile = provenance(undefined, `https://github.com/${'/'.repeat(1_000_000)}x`);
      const decision = decide(
        [await attest(stranger, { predicate: hostile })],
        [registryKey(stranger)],
        spec,
      );
      expect(decision.notes.map((r) => r.code)).toEqual(['SIGNER_NOT_ALLOWED']);
      expect(JSON.stringify(decision).length).toBeLessThan(20_000);
    });
  });

  describe('when the DSSE keyid is missing, empty or names no key (it is optional and unauthenticated)', () => {
    const inline = testKey();
    const spec = () => policy({ signers: [{ publicKey: inline.publicKeyPem }] });
    const withKeyid = async (keyid: string | undefined) => {
      const bundle = JSON.parse(await attest(inline));
      const [signature] = bundle.dsseEnvelope.signatures;
      return JSON.stringify({
        ...bundle.dsseEnvelope,
        signatures: [keyid === undefined ? { sig: signature.sig } : { sig: signature.sig, keyid }],
      });
    };

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['unknown', 'some-other-key'],
      ['5,000 characters long', 'k'.repeat(5000)],
    ])('tries the keys the policy names when it is %s', async (_what, keyid) => {
      const decision = decide([await withKeyid(keyid)], [], spec());
      expect(decision.reasons).toEqual([]);
      expect(decision.keyIds).toEqual([inline.keyId]);
    });

    it('still needs a signature by one of those keys', async () => {
      const other = testKey();
      const bundle = JSON.parse(await attest(other));
      const envelope = {
        ...bundle.dsseEnvelope,
        signatures: [{ sig: bundle.dsseEnvelope.signatures[0].sig, keyid: '' }],
      };
      const decision = decide([JSON.stringify(envelope)], [], spec());
      expect(decision.accepted).toBe(false);
      expect(decision.notes.map((r) => r.code)).toEqual(['UNKNOWN_KEY']);
    });
  });

  describe('when a key hint is hostile', () => {
    it('answers UNKNOWN_KEY without looking it up, and without echoing it whole', async () => {
      const looked: string[] = [];
      const hint = `arn:${'x'.repeat(5000)}`;
      const bundle = JSON.parse(await attest(testKey('p256', hint)));
      const decision = evaluate({
        artifact,
        attestations: parseAttestationFile(JSON.stringify(bundle), 'a.sigstore.json').attestations,
        policy: policy({ signers: [{ registry: true }] }),
        keys: (h) => {
          looked.push(h);
          return undefined;
        },
        observedAt: hours(1),
      });
      expect(looked).toEqual([]);
      const reason = decision.notes.find((r) => r.code === 'UNKNOWN_KEY');
      expect(reason?.message).toMatch(/5004 characters long/);
      expect(reason?.message.length).toBeLessThan(200);
    });
  });

  describe('requireSubjectName', () => {
    const spec = () => policy({ signers: [{ registry: true }], requireSubjectName: true });

    it('accepts a subject named as the artifact file', async () => {
      expect(decide([await attest(key)], [registryKey(key)], spec()).accepted).toBe(true);
    });

    it('refuses the right digest under another name', async () => {
      const statement = createStatement(
        [{ name: 'other.tar.gz', digests: { sha256 } }],
        PROVENANCE_V1,
        provenance(),
      );
      const file = JSON.stringify(await signStatement(statement, key.sign));
      const decision = decide([file], [registryKey(key)], spec());
      expect(decision).toMatchObject({ accepted: false, curable: false });
      expect(decision.reasons[0]?.code).toBe('SUBJECT_MISMATCH');
    });

    // The name and the digest must be on the same subject: a statement naming the artifact for other
    // bytes, and these bytes under another name, names neither.
    it('refuses the name on one subject and the digest on another', async () => {
      const statement = createStatement(
        [
          { name: 'app.tar.gz', digests: { sha256: 'f'.repeat(64) } },
          { name: 'other.tar.gz', digests: { sha256 } },
        ],
        PROVENANCE_V1,
        provenance(),
      );
      const file = JSON.stringify(await signStatement(statement, key.sign));
      const decision = decide([file], [registryKey(key)], spec());
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((r) => r.code)).toContain('SUBJECT_MISMATCH');
    });

    it('accepts a statement about several artifacts when one subject names this one', async () => {
      const statement = createStatement(
        [
          { name: 'other.tar.gz', digests: { sha256: 'f'.repeat(64) } },
          { name: 'app.tar.gz', digests: { sha256 } },
        ],
        PROVENANCE_V1,
        provenance(),
      );
      const file = JSON.stringify(await signStatement(statement, key.sign));
      expect(decide([file], [registryKey(key)], spec()).reasons).toEqual([]);
    });
  });

  describe('reasons', () => {
    it('are listed once when one attestation gives the same one twice (its signature twice)', async () => {
      const builderSpec = policy({ signers: [{ keyId: key.keyId }], builderIds: [BUILDER] });
      const bundle = JSON.parse(await attest(key, { predicate: provenance('https://evil.example/b@v1') }));
      const envelope = {
        ...bundle.dsseEnvelope,
        signatures: [bundle.dsseEnvelope.signatures[0], bundle.dsseEnvelope.signatures[0]],
      };
      const decision = decide([JSON.stringify(envelope)], [registryKey(key)], builderSpec);
      expect(decision.reasons.map((r) => r.code)).toEqual(['BUILDER_NOT_ALLOWED', 'MISSING_ATTESTATION']);
    });
  });

  describe('what a reason says (what an operator reads in the record)', () => {
    const other = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/3333');
    const messageOf = (
      reasons: readonly { code: string; message: string; subject?: string }[],
      code: string,
    ) => {
      const reason = reasons.find((r) => r.code === code);
      expect(reason?.subject, code).toBe('rule releases');
      return reason?.message;
    };

    it('SIGNER_NOT_ALLOWED names the file, the signer and whom the rule allows', async () => {
      const spec = policy({ signers: [{ keyId: other.keyId }] });
      const decision = decide([await attest(key)], [registryKey(key), registryKey(other)], spec);
      expect(messageOf(decision.notes, 'SIGNER_NOT_ALLOWED')).toBe(
        `att0.sigstore.json is signed by key ${key.keyId}; rule releases allows key ${other.keyId}`,
      );
    });

    it('BUILDER_NOT_ALLOWED names the builder found, or why there is none', async () => {
      const spec = policy({ signers: [{ registry: true }], builderIds: [BUILDER] });
      const evil = decide(
        [await attest(key, { predicate: provenance('https://evil.example/builder@v1') })],
        [registryKey(key)],
        spec,
      );
      expect(messageOf(evil.reasons, 'BUILDER_NOT_ALLOWED')).toBe(
        `att0.sigstore.json was built by https://evil.example/builder@v1; rule releases allows ${BUILDER}`,
      );
      const { runDetails: _none, ...noBuilder } = provenance();
      const missing = decide([await attest(key, { predicate: noBuilder })], [registryKey(key)], spec);
      expect(messageOf(missing.reasons, 'BUILDER_NOT_ALLOWED')).toMatch(
        /^att0\.sigstore\.json was built by \(.+\); rule releases allows /,
      );
    });

    it('SOURCE_NOT_ALLOWED names the source found, normalised', async () => {
      const spec = policy({
        signers: [{ registry: true }],
        sourceRepositories: ['https://github.com/acme/app'],
      });
      const decision = decide(
        [await attest(key, { predicate: provenance(undefined, 'git+https://github.com/acme/fork.git') })],
        [registryKey(key)],
        spec,
      );
      expect(messageOf(decision.reasons, 'SOURCE_NOT_ALLOWED')).toBe(
        'att0.sigstore.json was built from https://github.com/acme/fork; rule releases allows https://github.com/acme/app',
      );
    });

    it('a subject without the name says which name it needed', async () => {
      const spec = policy({ signers: [{ registry: true }], requireSubjectName: true });
      const statement = createStatement(
        [{ name: 'other.tar.gz', digests: { sha256 } }],
        PROVENANCE_V1,
        provenance(),
      );
      const decision = decide(
        [JSON.stringify(await signStatement(statement, key.sign))],
        [registryKey(key)],
        spec,
      );
      expect(messageOf(decision.reasons, 'SUBJECT_MISMATCH')).toBe(
        'att0.sigstore.json names this digest, but not as "releases/app.tar.gz" or its file name; rule releases requires the name',
      );
    });

    it('MISSING_ATTESTATION names the types required: one, several, or any', () => {
      const types = (type: string | string[]) =>
        compilePolicy(
          {
            version: 1,
            rules: [
              {
                name: 'releases',
                match: ['releases/**'],
                require: [{ type, signers: [{ registry: true }] }],
              },
            ],
          },
          'sha256:test',
        );
      const message = (type: string | string[]) =>
        messageOf(decide([], [], types(type)).reasons, 'MISSING_ATTESTATION');
      expect(message(PROVENANCE_V1)).toBe(
        `requires a ${PROVENANCE_V1} attestation; none was found for this artifact`,
      );
      expect(message([PROVENANCE_V1, 'https://spdx.dev/Document'])).toBe(
        `requires a ${PROVENANCE_V1} or https://spdx.dev/Document attestation; none was found for this artifact`,
      );
      expect(message('*')).toBe('requires a signed attestation; none was found for this artifact');
    });
  });
});
