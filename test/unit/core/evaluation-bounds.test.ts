import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  DEFAULT_LIMITS,
  evaluate,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';
import { codes, PROVENANCE, SHA256, SIGNER, T0 } from '../../helpers/policy-cases.ts';

const statement = createStatement([{ name: 'app.tar.gz', digests: { sha256: SHA256 } }], PROVENANCE, {});

describe('#evaluate, bounds on the work one artifact can cause', () => {
  const policy = compilePolicy(
    {
      version: 1,
      rules: [
        { name: 'r', match: ['**'], require: [{ type: PROVENANCE, signers: [{ keyId: SIGNER.keyId }] }] },
      ],
    },
    'sha256:test',
  );
  const decideOver = async (count: number, maxAttestationsPerEvaluation: number) => {
    const file = JSON.stringify(await signStatement(statement, SIGNER.sign));
    const attestations = Array.from(
      { length: count },
      (_, i) => parseAttestationFile(file, `att${i}.sigstore.json`).attestations,
    ).flat();
    return evaluate({
      artifact: { path: 'app.tar.gz', digests: { sha256: SHA256 } },
      attestations,
      policy,
      keys: staticKeyLookup([SIGNER.trusted()]),
      observedAt: T0,
      now: T0,
      limits: { ...DEFAULT_LIMITS, maxAttestationsPerEvaluation },
    });
  };

  it('verifies at most maxAttestationsPerEvaluation attestations, and notes the rest', async () => {
    const over = await decideOver(3, 2);
    expect(over.attestations.map((a) => a.source)).toEqual(['att0.sigstore.json', 'att1.sigstore.json']);
    expect(codes(over.notes)).toEqual(['LIMIT_EXCEEDED']);
    expect(over.notes[0]?.message).toMatch(/^3 attestations name this artifact; only the first 2/);
    const exactly = await decideOver(2, 2);
    expect(exactly.attestations).toHaveLength(2);
    expect(exactly.notes).toEqual([]);
  });
});

describe('#evaluate, a keyed signature whose hint names no key', () => {
  const named = [testKey(), testKey(), SIGNER];
  const policy = compilePolicy(
    {
      version: 1,
      rules: [
        {
          name: 'r',
          match: ['**'],
          require: [{ type: PROVENANCE, signers: named.map((key) => ({ keyId: key.keyId })) }],
        },
      ],
    },
    'sha256:test',
  );
  const decide = async (maxKeyCandidates: number) => {
    const bundle = JSON.parse(JSON.stringify(await signStatement(statement, SIGNER.sign)));
    bundle.verificationMaterial.publicKey.hint = '';
    return evaluate({
      artifact: { path: 'app.tar.gz', digests: { sha256: SHA256 } },
      attestations: parseAttestationFile(JSON.stringify(bundle), 'b.sigstore.json').attestations,
      policy,
      keys: staticKeyLookup(named.map((key) => key.trusted())),
      observedAt: T0,
      now: T0,
      limits: { ...DEFAULT_LIMITS, maxKeyCandidates },
    });
  };

  it("is tried against the policy's keys in order, at most maxKeyCandidates of them", async () => {
    expect((await decide(3)).verdict).toBe('pass');
    const bounded = await decide(2);
    expect(bounded.verdict).toBe('fail');
    expect(bounded.attestations[0]?.signatures[0]?.error?.code).toBe('UNKNOWN_KEY');
  });
});
