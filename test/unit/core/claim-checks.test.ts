import { describe, expect, it } from 'vitest';
import { compileClaimRequirements, VouchError } from '#core/index.ts';
import { decide, firstSignature, ISSUER, KEYLESS_SIGNER, statementAbout } from '../../helpers/decide.ts';
import { DEFAULT_IDENTITY, keylessBundle } from '../../helpers/sigstore/index.ts';

describe('claim globs', () => {
  const sourceRef = (pattern: string) => {
    const check = compileClaimRequirements({ sourceRef: pattern }, 'w');
    if (!check) throw new Error('no check compiled');
    return (ref: string) => check({ sourceRepositoryRef: ref }) === undefined;
  };

  it('match parentheses and bars literally', () => {
    const matches = sourceRef('refs/tags/v(1|2)');
    expect(matches('refs/tags/v(1|2)')).toBe(true);
    expect(matches('refs/tags/v1')).toBe(false);
  });

  it('let `*` match a segment that starts with a dot', () => {
    expect(sourceRef('refs/heads/*')('refs/heads/.hidden')).toBe(true);
  });

  it('are refused when the policy loads if they hold a backslash or a control character', () => {
    for (const pattern of ['refs\\/tags/*', 'refs/tags/\u0007*']) {
      expect(() => sourceRef(pattern)).toThrow(VouchError);
    }
  });
});

describe('certificate claims', () => {
  const claimsOf = (sourceRepositoryRef: string) => {
    const bundle = keylessBundle({
      content: { statement: statementAbout() },
      identity: { ...DEFAULT_IDENTITY, issuer: ISSUER, github: { sourceRepositoryRef } },
    });
    const decision = decide(bundle, { policy: KEYLESS_SIGNER });
    expect(decision.reasons).toEqual([]);
    const signer = firstSignature(decision)?.signer;
    return signer?.kind === 'keyless' ? signer.claims : undefined;
  };

  it('are read up to 2048 characters; a longer one is left out', () => {
    const long = `refs/tags/${'v'.repeat(2038)}`;
    expect(claimsOf(long)).toEqual({ sourceRepositoryRef: long });
    expect(claimsOf(`${long}v`)).toBeUndefined();
  });
});
