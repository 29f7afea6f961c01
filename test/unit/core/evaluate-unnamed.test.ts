import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  evaluate,
  keySignaturesStillValid,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import { testKey } from '../../helpers/keys.ts';

// An artifact evaluated by its digests alone, with no object key (as `vouch verify` may be asked to),
// and the reasons that name what it was compared with.
const key = testKey();
const bytes = Buffer.from('an artifact');
const sha256 = createHash('sha256').update(bytes).digest('hex');
const policy = compilePolicy(
  {
    version: 1,
    rules: [
      {
        name: 'r',
        match: ['releases/**'],
        require: [{ type: 'https://slsa.dev/provenance/v1', signers: [{ registry: true }] }],
      },
    ],
  },
  'sha256:test',
);
const signedAbout = async (digest: string) =>
  parseAttestationFile(
    JSON.stringify(
      await signStatement(
        createStatement([{ name: 'a', digests: { sha256: digest } }], 'https://slsa.dev/provenance/v1', {}),
        key.sign,
      ),
    ),
    'a.sigstore.json',
  ).attestations;
const decide = async (path: string | undefined, digest = sha256) =>
  evaluate({
    artifact: { ...(path === undefined ? {} : { path }), digests: { sha256 } },
    attestations: await signedAbout(digest),
    policy,
    keys: staticKeyLookup([key.trusted({ origin: 'registry' })]),
    observedAt: new Date('2026-06-01T00:00:00Z'),
    now: new Date('2026-06-01T00:00:00Z'),
    strict: true,
  });

describe('#evaluate, an artifact without an object key', () => {
  it('records no path, and says no rule matches the empty name', async () => {
    const decision = await decide(undefined);
    expect('path' in decision.artifact).toBe(false);
    expect(decision.reasons).toEqual([{ code: 'NO_MATCHING_RULE', message: 'no policy rule matches ""' }]);
  });

  it('records the path it was given', async () => {
    const decision = await decide('releases/app');
    expect(decision.artifact.path).toBe('releases/app');
    expect(decision.accepted).toBe(true);
  });
});

describe('#evaluate, a statement about other bytes', () => {
  it('says which digest no subject has', async () => {
    const decision = await decide('releases/app', 'b'.repeat(64));
    expect(decision.accepted).toBe(false);
    expect(decision.reasons).toContainEqual({
      code: 'SUBJECT_MISMATCH',
      message: `no subject of the statement has digest sha256:${sha256}`,
      subject: 'a.sigstore.json',
    });
  });
});

describe('#keySignaturesStillValid', () => {
  it('confirms a decision against the keys as they are now, at each recorded signing time', async () => {
    const decision = await decide('releases/app');
    expect(decision.keyIds).toEqual([key.keyId]);
    expect(keySignaturesStillValid(decision, staticKeyLookup([key.trusted()]))).toBe(true);
    expect(keySignaturesStillValid(decision, staticKeyLookup([]))).toBe(false);
    const revoked = staticKeyLookup([key.trusted({ revokedAt: new Date('2026-01-01T00:00:00Z') })]);
    expect(keySignaturesStillValid(decision, revoked)).toBe(false);
  });

  it('has no time to check a signature against when none was recorded', async () => {
    const decision = await decide('releases/app');
    const untimed = {
      ...decision,
      attestations: decision.attestations.map((report) => ({
        ...report,
        signatures: report.signatures.map(({ signingTimes: _, ...signature }) => signature),
      })),
    };
    const revoked = staticKeyLookup([key.trusted({ revokedAt: new Date('2026-01-01T00:00:00Z') })]);
    expect(keySignaturesStillValid(untimed, revoked)).toBe(true);
  });
});
