import { describe, expect, it } from 'vitest';
import { ARTIFACT, decide, policyFor, statementAbout } from '../../helpers/decide.ts';
import { testKey } from '../../helpers/keys.ts';
import { keyedBundle } from '../../helpers/sigstore/index.ts';

const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/reports');
const keys = [key.trusted({ origin: 'registry' as const })];

describe("an attestation's report in the decision", () => {
  it('names the predicate type of a statement, and none for a plain signature', async () => {
    const statement = await keyedBundle({ key, content: { statement: statementAbout() } });
    const signature = await keyedBundle({ key, content: { artifact: ARTIFACT } });
    const [fromStatement] = decide(statement, { keys, policy: policyFor([{ registry: true }]) }).attestations;
    const [fromSignature] = decide(signature, {
      keys,
      policy: policyFor([{ registry: true }], 'signature'),
    }).attestations;
    expect(fromStatement?.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(fromSignature).toMatchObject({ kind: 'signature', verified: true });
    expect(fromSignature).not.toHaveProperty('predicateType');
  });

  it('is not `verified` when its signature verifies but it is about other bytes', async () => {
    const other = await keyedBundle({ key, content: { statement: statementAbout(Buffer.from('other')) } });
    const decision = decide(other, { keys, policy: policyFor([{ registry: true }]) });
    expect(decision.attestations[0]).toMatchObject({
      verified: false,
      signatures: [{ signer: { keyId: key.keyId } }],
      reasons: [{ code: 'SUBJECT_MISMATCH' }],
    });
  });
});
