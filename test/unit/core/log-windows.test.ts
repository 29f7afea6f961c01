import { describe, expect, it } from 'vitest';
import { compilePolicy, parseAttestationFile, trustRootSet } from '#core/index.ts';
import { keylessRootsFor } from '#core/keyless.ts';
import { decide, firstSignature, ISSUER, statementAbout } from '../../helpers/decide.ts';
import {
  DEFAULT_SIGNING_TIME,
  GITHUB_LIKE,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

const statement = { statement: statementAbout() };
const at = (seconds: number) => new Date(DEFAULT_SIGNING_TIME.getTime() + seconds * 1000);

describe('a log entry proven only by its checkpoint, against every verified time of the signature', () => {
  const rekorV2 = (validFor: { start?: Date; end?: Date }, timestamps: Date[]) => {
    const instance = testInstance({ rekorV2: { validFor } });
    const bundle = keylessBundle({
      instance,
      content: statement,
      tlog: { log: 'rekorV2' },
      timestamps: timestamps.map((time) => ({ at: time })),
    });
    return decide(bundle, { trustRoot: instance.trustRoot });
  };

  it('is rejected with TLOG_INVALID when one of two RFC 3161 times is after the window', () => {
    expect(rekorV2({ end: at(300) }, [at(1), at(200)]).reasons).toEqual([]);
    const decision = rekorV2({ end: at(100) }, [at(1), at(200)]);
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('TLOG_INVALID');
  });

  it('is accepted at the first second of the window (closed interval)', () => {
    expect(rekorV2({ start: at(1) }, [at(1)]).reasons).toEqual([]);
  });
});

describe('a log entry with an inclusion promise', () => {
  it("is judged by its promised time alone, not the signature's other times", () => {
    // The log key's window ends after the promised time (2 s) and before the RFC 3161 time (5 s).
    const instance = testInstance({ rekor: { validFor: { end: at(3) } } });
    const bundle = keylessBundle({ instance, content: statement, tlog: {}, timestamps: [{ at: at(5) }] });
    expect(decide(bundle, { trustRoot: instance.trustRoot }).reasons).toEqual([]);
  });
});

describe('#keylessRootsFor', () => {
  const github = testInstance(GITHUB_LIKE);
  const roots = trustRootSet([
    { instance: 'public-good', source: 'given', root: testInstance().trustRoot },
    { instance: 'github', source: 'given', root: github.trustRoot },
  ]);
  const signers = compilePolicy(
    {
      version: 1,
      rules: [
        {
          name: 'r',
          match: ['**'],
          require: [
            {
              type: 't',
              signers: [
                { issuer: ISSUER, identity: 'someone-else@vouch.test' },
                { issuer: ISSUER, identity: 'signer@vouch.test', instance: 'github' },
              ],
            },
          ],
        },
      ],
    },
    'sha256:test',
  ).rules[0]?.requirements[0]?.signers;

  it('offers a certificate only the roots of the signers who could allow its identity', () => {
    const [attestation] = parseAttestationFile(
      JSON.stringify(keylessBundle({ instance: github, content: statement })),
      'b.sigstore.json',
    ).attestations;
    const bundle = attestation?.signatures[0];
    if (!bundle || !signers) throw new Error('fixture did not build');
    expect(keylessRootsFor(bundle, signers, roots).map((root) => root.instance)).toEqual(['github']);
  });
});
