import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  evaluate,
  type PolicySpec,
  parseAttestationFile,
  type Reason,
  signStatement,
  staticKeyLookup,
  type TrustedKey,
} from '#core/index.ts';
import { dedupe, describeSigner } from '#core/requirements.ts';
import { type TestKey, testKey } from '../../helpers/keys.ts';

// What a refused requirement tells the person reading the record: who signed, what the policy allows,
// what the provenance said instead. Each message is checked whole, as it is the only explanation given.

const PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
const GENERIC = 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';
const BUILDER = 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generic.yml';
const bytes = Buffer.from('release bits for messages');
const digests = { sha256: createHash('sha256').update(bytes).digest('hex') };
const T0 = new Date('2026-06-01T00:00:00Z');

const alice = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/alice');
const bob = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/bob');
const carol = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/carol');

const provenance = (builderId?: string, repository = 'https://github.com/acme/app') => ({
  buildDefinition: {
    buildType: GENERIC,
    externalParameters: { workflow: { ref: 'refs/heads/main', repository, path: '.github/workflows/r.yml' } },
  },
  runDetails: builderId === undefined ? {} : { builder: { id: builderId } },
});

async function attest(
  key: TestKey,
  predicate: Record<string, unknown> = provenance(`${BUILDER}@refs/tags/v1`),
) {
  const statement = createStatement([{ name: 'app.tar.gz', digests }], PROVENANCE_V1, predicate);
  return JSON.stringify(await signStatement(statement, key.sign));
}

type RequirementSpec = PolicySpec['rules'][number]['require'][number];

function decide(files: string[], require: Omit<RequirementSpec, 'type'>, keys: TrustedKey[], strict = true) {
  const policy = compilePolicy(
    {
      version: 1,
      rules: [{ name: 'releases', match: ['releases/**'], require: [{ type: PROVENANCE_V1, ...require }] }],
    },
    'sha256:test',
  );
  return evaluate({
    artifact: { path: 'releases/app.tar.gz', digests },
    attestations: files.flatMap(
      (file, i) => parseAttestationFile(file, `att${i}.sigstore.json`).attestations,
    ),
    policy,
    keys: staticKeyLookup(keys),
    observedAt: T0,
    strict,
  });
}

const trusted = (...keys: TestKey[]) => keys.map((key) => key.trusted({ validFrom: T0 }));

describe('a signer the requirement does not allow', () => {
  it('is named by its key, followed by every signer the rule allows', async () => {
    const decision = decide(
      [await attest(bob)],
      { signers: [{ keyId: alice.keyId }, { keyId: carol.keyId }] },
      trusted(alice, bob, carol),
    );
    const refused = decision.reasons.find((r) => r.code === 'SIGNER_NOT_ALLOWED');
    expect(refused?.message).toBe(
      `att0.sigstore.json is signed by key ${bob.keyId}; rule releases allows key ${alice.keyId}, key ${carol.keyId}`,
    );
  });
});

describe('a threshold not met', () => {
  it('counts the distinct allowed signers found', async () => {
    const decision = decide(
      [await attest(alice)],
      { signers: [{ keyId: alice.keyId }, { keyId: bob.keyId }], threshold: 2 },
      trusted(alice, bob),
    );
    expect(decision.reasons).toEqual([
      {
        code: 'THRESHOLD_NOT_MET',
        message: `requires ${PROVENANCE_V1} signed by 2 distinct allowed signer(s); found 1`,
        subject: 'rule releases',
      },
    ]);
  });

  it('says THRESHOLD_NOT_MET, not a missing attestation, when a threshold of two finds none', () => {
    const decision = decide(
      [],
      { signers: [{ keyId: alice.keyId }, { keyId: bob.keyId }], threshold: 2 },
      trusted(alice, bob),
    );
    expect(decision.reasons).toEqual([
      {
        code: 'THRESHOLD_NOT_MET',
        message: `requires ${PROVENANCE_V1} signed by 2 distinct allowed signer(s); found 0`,
        subject: 'rule releases',
      },
    ]);
  });
});

describe('provenance from a builder or source the requirement does not allow', () => {
  const allowedBuilders = [`${BUILDER}@refs/tags/v2`, 'https://ci.example.com/builder'];

  it('names the builder it was built by and every builder allowed', async () => {
    const decision = decide(
      [await attest(alice)],
      { signers: [{ keyId: alice.keyId }], builderIds: allowedBuilders },
      trusted(alice),
    );
    expect(decision.reasons[0]).toEqual({
      code: 'BUILDER_NOT_ALLOWED',
      message: `att0.sigstore.json was built by ${BUILDER}@refs/tags/v1; rule releases allows ${allowedBuilders.join(', ')}`,
      subject: 'rule releases',
    });
  });

  it('says why there is no builder ID when the provenance names none', async () => {
    const decision = decide(
      [await attest(alice, provenance(undefined))],
      { signers: [{ keyId: alice.keyId }], builderIds: allowedBuilders },
      trusted(alice),
    );
    expect(decision.reasons[0]?.message).toBe(
      `att0.sigstore.json was built by (no runDetails.builder.id); rule releases allows ${allowedBuilders.join(', ')}`,
    );
  });

  it('names the source it was built from and every repository allowed', async () => {
    const repositories = ['https://github.com/acme/lib', 'https://github.com/acme/tools'];
    const decision = decide(
      [await attest(alice)],
      { signers: [{ keyId: alice.keyId }], sourceRepositories: repositories },
      trusted(alice),
    );
    expect(decision.reasons[0]).toEqual({
      code: 'SOURCE_NOT_ALLOWED',
      message: `att0.sigstore.json was built from https://github.com/acme/app; rule releases allows ${repositories.join(', ')}`,
      subject: 'rule releases',
    });
  });
});

describe('#describeSigner', () => {
  it('names a key, with its pipeline when it has one, and a keyless signer by identity and issuer', () => {
    expect(describeSigner({ kind: 'key', keyId: 'k1' })).toBe('key k1');
    expect(describeSigner({ kind: 'key', keyId: 'k1', pipeline: 'web' })).toBe('key k1 (pipeline web)');
    expect(
      describeSigner({
        kind: 'keyless',
        subjectAlternativeName: 'https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main',
        issuer: 'https://token.actions.githubusercontent.com',
      }),
    ).toBe(
      'https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main (issuer https://token.actions.githubusercontent.com)',
    );
  });
});

describe('#dedupe', () => {
  it('drops repeats of a reason, but keeps the same message about another subject', () => {
    const missing = (subject: string): Reason => ({
      code: 'MISSING_ATTESTATION',
      message: `requires a ${PROVENANCE_V1} attestation; none was found for this artifact`,
      subject,
    });
    expect(dedupe([missing('rule a'), missing('rule b'), missing('rule a')])).toEqual([
      missing('rule a'),
      missing('rule b'),
    ]);
  });
});
