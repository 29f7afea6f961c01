import { describe, expect, it } from 'vitest';
import { compileCondition, DEFAULT_CONDITION_COST_LIMIT } from '#core/conditions.ts';
import { parsePolicy, parsePolicyAsync, VouchError } from '#core/index.ts';
import {
  codes,
  decideWith,
  PROVENANCE,
  policyWith,
  SIGNER,
  STRANGER,
  signed,
} from '../../helpers/policy-cases.ts';

const provenance = (buildType: string, extra: Record<string, unknown> = {}) => ({
  buildDefinition: { buildType, externalParameters: { workflow: { ref: 'refs/tags/v1.0.0' } }, ...extra },
  runDetails: { builder: { id: 'https://github.com/actions/runner' } },
});
const GITHUB = 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';

const loadError = (source: string) => {
  try {
    compileCondition(source, 'policy.yaml: /rules/0/require/0/conditions/0');
  } catch (error) {
    expect(error).toBeInstanceOf(VouchError);
    return (error as Error).message;
  }
  throw new Error(`${source} compiled`);
};

describe('#compileCondition', () => {
  describe('when the policy loads', () => {
    it.each([
      ['a syntax error', 'predicate.buildDefinition.buildType ==', /does not parse/],
      ['an unknown variable', 'build == 1', /names build, which is not a variable; use statement, predicate/],
      ['an unknown signer field', 'signer.email == "x"', /selects signer\.email; signer has kind, keyId/],
      [
        'an operator without an overload',
        'artifact.size + "x" == 1',
        /calls \+\(int, string\), which has no such overload/,
      ],
      ['an unknown function', 'lookup(predicate) == 1', /calls lookup, which is not a CEL function here/],
      ['a result that is not a boolean', 'artifact.size + 1', /is int, not a boolean/],
      [
        'a method on the wrong argument type',
        '"x".startsWith(1)',
        /calls string\.startsWith\(int\), which has no such overload/,
      ],
      ['a huge expression', `${'true && '.repeat(450)}true`, /more than 512 nodes/],
      ['an overlong expression', 'x'.repeat(5000), /longer than 4096 characters/],
    ])('refuses %s, naming its path', (_what, source, message) => {
      const error = loadError(source);
      expect(error).toMatch(/^policy\.yaml: \/rules\/0\/require\/0\/conditions\/0: /);
      expect(error).toMatch(message);
    });

    it('names the requirement path when a policy file holds a bad condition', async () => {
      const text = `version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [{ registry: true }]
        conditions: ["predicate.buildType = 'x'"]
`;
      await expect(parsePolicyAsync(text, 'policy.yaml')).rejects.toThrow(
        /policy\.yaml: \/rules\/0\/require\/0\/conditions\/0: "predicate\.buildType = 'x'" does not parse/,
      );
      // Loaded (by parsePolicyAsync or anyone), the engine serves synchronous compiles too.
      expect(() => parsePolicy(text, 'policy.yaml')).toThrow(/does not parse/);
    });

    it('refuses conditions on a requirement that a plain signature could meet', () => {
      expect(() => policyWith({ type: ['signature'], conditions: ['true'] })).toThrow(
        /conditions needs statements, but type accepts "signature"/,
      );
    });
  });

  describe('when evaluated', () => {
    const input = {
      statement: { predicateType: PROVENANCE, subject: [], predicate: { list: [1, 2, 3] } },
      signer: { kind: 'key', keyId: 'k' },
      artifact: { key: 'releases/app', digest: 'sha256:ab', size: 10 },
      now: new Date('2026-06-01T00:00:00Z'),
    };
    it('holds when true, and says why not otherwise', () => {
      expect(compileCondition('predicate.list.all(x, x > 0)', 'c').evaluate(input)).toBeUndefined();
      expect(compileCondition('artifact.size < 5', 'c').evaluate(input)).toBe('is false');
      expect(compileCondition('predicate.missing.field == 1', 'c').evaluate(input)).toMatch(/^failed: /);
      expect(compileCondition('predicate.list', 'c').evaluate(input)).toBe('is not a boolean');
    });
    it('compares times with now', () => {
      expect(
        compileCondition("now > timestamp('2026-01-01T00:00:00Z')", 'c').evaluate(input),
      ).toBeUndefined();
    });
  });

  describe('when a statement makes the evaluation expensive (cost limit)', () => {
    const big = Array.from({ length: 2000 }, (_, i) => i);
    const input = {
      statement: { predicate: { list: big } },
      signer: {},
      artifact: { key: 'k', digest: 'd' },
      now: new Date(),
    };
    it('fails a nested comprehension past the budget', () => {
      const condition = compileCondition('predicate.list.all(x, predicate.list.all(y, y >= 0))', 'c');
      expect(condition.evaluate(input)).toBe(
        `exceeded the cost limit of ${DEFAULT_CONDITION_COST_LIMIT} iterations`,
      );
    });
    it('fails even where `|| true` would absorb the error', () => {
      const condition = compileCondition('predicate.list.all(x, predicate.list.all(y, y >= 0)) || true', 'c');
      expect(condition.evaluate(input)).toMatch(/exceeded the cost limit/);
    });
    it('lets a single pass over a long list through', () => {
      expect(compileCondition('predicate.list.all(x, x >= 0)', 'c').evaluate(input)).toBeUndefined();
    });
    it('counts map and filter too', () => {
      const condition = compileCondition(
        'predicate.list.map(x, predicate.list.filter(y, y == x)).size() > 0',
        'c',
      );
      expect(condition.evaluate(input)).toMatch(/exceeded the cost limit/);
    });
  });
});

describe('#evaluate with conditions', () => {
  const requirement = {
    conditions: [`predicate.buildDefinition.buildType == '${GITHUB}'`, 'artifact.size < 1000'],
  };

  it('accepts an allowed signer whose statement meets every condition', async () => {
    const decision = decideWith([await signed(PROVENANCE, provenance(GITHUB))], policyWith(requirement), {
      size: 10,
    });
    expect(decision.reasons).toEqual([]);
    expect(decision.accepted).toBe(true);
  });

  it('rejects with the failing expression quoted', async () => {
    const decision = decideWith(
      [await signed(PROVENANCE, provenance('https://evil.example/build'))],
      policyWith(requirement),
      {
        size: 10,
      },
    );
    expect(decision.accepted).toBe(false);
    expect(decision.curable).toBe(false);
    expect(codes(decision.reasons)).toEqual(['CONDITION_FAILED', 'MISSING_ATTESTATION']);
    expect(decision.reasons[0]?.message).toContain(
      `att0.sigstore.json: condition "predicate.buildDefinition.buildType == '${GITHUB}'" is false; rule releases`,
    );
  });

  it('sees the artifact: its size', async () => {
    const decision = decideWith([await signed(PROVENANCE, provenance(GITHUB))], policyWith(requirement), {
      size: 5000,
    });
    expect(decision.reasons[0]?.message).toContain('condition "artifact.size < 1000" is false');
  });

  it('sees the signer', async () => {
    const policy = policyWith({ conditions: [`signer.kind == 'key' && signer.keyId == '${SIGNER.keyId}'`] });
    expect(decideWith([await signed(PROVENANCE, provenance(GITHUB))], policy).accepted).toBe(true);
  });

  it('never evaluates a statement whose signer is not allowed: it is a note, not a verdict', async () => {
    const policy = policyWith({ conditions: ['predicate.list.all(x, predicate.list.all(y, y >= 0))'] });
    const decision = decideWith(
      [await signed(PROVENANCE, { list: Array.from({ length: 3000 }, (_, i) => i) }, STRANGER)],
      policy,
    );
    expect(codes(decision.reasons)).toEqual(['MISSING_ATTESTATION']);
    expect(codes(decision.notes)).toContain('SIGNER_NOT_ALLOWED');
    expect(decision.notes.some((n) => n.code === 'CONDITION_FAILED')).toBe(false);
  });

  it('never evaluates a statement whose signature does not verify', async () => {
    const bundle = JSON.parse(await signed(PROVENANCE, provenance(GITHUB)));
    bundle.dsseEnvelope.signatures[0].sig = Buffer.from('forged').toString('base64');
    const decision = decideWith([JSON.stringify(bundle)], policyWith(requirement), { size: 10 });
    expect(decision.accepted).toBe(false);
    expect(codes(decision.notes)).toContain('SIGNATURE_INVALID');
    expect(codes(decision.reasons)).toEqual(['MISSING_ATTESTATION']);
  });

  it('rejects, never accepts, when an allowed signer makes the cost limit run out', async () => {
    const policy = policyWith({ conditions: ['predicate.list.all(x, predicate.list.all(y, y >= 0))'] });
    const decision = decideWith(
      [await signed(PROVENANCE, { list: Array.from({ length: 3000 }, (_, i) => i) })],
      policy,
    );
    expect(decision.accepted).toBe(false);
    expect(decision.reasons[0]?.message).toMatch(/exceeded the cost limit/);
  });
});
