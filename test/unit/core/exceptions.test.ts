import { describe, expect, it } from 'vitest';
import {
  expiringExceptions,
  loadPolicySyntax,
  parsePolicy,
  summaryEntry,
  verificationSummary,
} from '#core/index.ts';
import { decideWith, PROVENANCE, policyWith, SHA256, signed, T0 } from '../../helpers/policy-cases.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const GITHUB = 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';
const failing = { conditions: [`predicate.buildType == '${GITHUB}'`] };
const exception = (fields: Record<string, unknown> = {}) => ({
  match: ['releases/**'],
  rules: ['releases'],
  reason: 'INC-42: hotfix built by hand',
  approvedBy: 'security@acme.example',
  expiresAt: '2026-06-02T00:00:00Z',
  ...fields,
});

describe('exceptions', () => {
  it('waive the failures of the rules they name until they expire, and say so in the decision', async () => {
    const policy = policyWith(failing, { exceptions: [exception()] });
    const decision = decideWith([await signed(PROVENANCE, { buildType: 'by-hand' })], policy);
    expect(decision.accepted).toBe(true);
    expect(decision.verdict).toBe('pass');
    expect(decision.exceptions).toEqual([
      expect.objectContaining({
        rule: 'releases',
        reason: 'INC-42: hotfix built by hand',
        approvedBy: 'security@acme.example',
        expiresAt: '2026-06-02T00:00:00.000Z',
        waived: [
          expect.objectContaining({ code: 'CONDITION_FAILED' }),
          expect.objectContaining({ code: 'MISSING_ATTESTATION' }),
        ],
      }),
    ]);
  });

  it('are recorded in the VSA', async () => {
    const policy = policyWith(failing, { exceptions: [exception()] });
    const decision = decideWith([await signed(PROVENANCE, { buildType: 'by-hand' })], policy);
    const entry = summaryEntry({
      decision,
      resourceUri: 's3://b/releases/app.tar.gz',
      subjectName: 'releases/app.tar.gz',
      inputAttestations: [],
    });
    const vsa = verificationSummary([entry], {
      issuedAt: T0,
      validUntil: new Date(T0.getTime() + 3600_000),
      resourceUri: 's3://b',
    });
    // Each artifact's entry in the batch's summary carries the exceptions its verdict used.
    const { artifacts } = (vsa.predicate as { vouch: { artifacts: { exceptions?: unknown[] }[] } }).vouch;
    expect(artifacts[0]?.exceptions).toHaveLength(1);
  });

  it('are ignored once expired, with a note', async () => {
    const policy = policyWith(failing, { exceptions: [exception({ expiresAt: '2026-06-01T00:00:00Z' })] });
    const decision = decideWith([await signed(PROVENANCE, { buildType: 'by-hand' })], policy);
    expect(decision.accepted).toBe(false);
    expect(decision.notes).toContainEqual({
      code: 'EXCEPTION_EXPIRED',
      message:
        'exception 0 (INC-42: hotfix built by hand, approved by security@acme.example) expired at 2026-06-01T00:00:00.000Z; not applied',
    });
    expect(decision.exceptions).toBeUndefined();
  });

  it('by digest cover those bytes only', async () => {
    const file = await signed(PROVENANCE, { buildType: 'by-hand' });
    const other = policyWith(failing, {
      exceptions: [exception({ match: undefined, digest: `sha256:${'0'.repeat(64)}` })],
    });
    expect(decideWith([file], other).accepted).toBe(false);
    const ours = policyWith(failing, {
      exceptions: [exception({ match: undefined, digest: `sha256:${SHA256}` })],
    });
    expect(decideWith([file], ours).accepted).toBe(true);
  });

  it('waive nothing for a key they do not match', async () => {
    const policy = policyWith(failing, { exceptions: [exception({ match: ['releases/other/**'] })] });
    expect(decideWith([await signed(PROVENANCE, { buildType: 'by-hand' })], policy).accepted).toBe(false);
  });

  it('are refused at load when they name an unknown rule, or both or neither of match and digest', () => {
    const text = (extra: string) => `version: 1
rules:
  - { name: releases, match: ["releases/**"], require: [{ type: t, signers: [{ registry: true }] }] }
exceptions:
  - { ${extra} reason: r, approvedBy: a, expiresAt: "2026-06-02T00:00:00Z" }
`;
    expect(() => parsePolicy(text('match: ["**"], rules: [nope],'), 'p.yaml')).toThrow(
      /p\.yaml: \/exceptions\/0\/rules names unknown rule "nope"/,
    );
    expect(() => parsePolicy(text('rules: [releases],'), 'p.yaml')).toThrow(
      /exactly one of match .* or digest/,
    );
    expect(() => parsePolicy(text('match: ["**"], rules: ["*"], expiresAt: "soon",'), 'p.yaml')).toThrow(
      /expiresAt/,
    );
  });

  it('about to expire are listed for the sweep', () => {
    const policy = policyWith(failing, {
      exceptions: [
        exception(),
        exception({ expiresAt: '2026-07-01T00:00:00Z' }),
        exception({ expiresAt: '2026-05-01T00:00:00Z' }),
      ],
    });
    expect(expiringExceptions(policy.exceptions, T0, 7 * 86_400_000).map((e) => e.index)).toEqual([0]);
  });
});

describe('enforceFrom', () => {
  it('keeps a rule in audit mode before its date: flagged, not rejected', async () => {
    const policy = policyWith(failing, {}, { enforceFrom: '2026-07-01T00:00:00Z' });
    const decision = decideWith([await signed(PROVENANCE, { buildType: 'by-hand' })], policy);
    expect(decision.mode).toBe('audit');
    expect(decision.accepted).toBe(true);
    expect(decision.verdict).toBe('fail');
  });

  it('enforces it from its date on', async () => {
    const policy = policyWith(failing, {}, { enforceFrom: '2026-05-01T00:00:00Z' });
    const decision = decideWith([await signed(PROVENANCE, { buildType: 'by-hand' })], policy);
    expect(decision.mode).toBe('enforce');
    expect(decision.accepted).toBe(false);
  });
});
