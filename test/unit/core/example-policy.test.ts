import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPolicySyntax, parsePolicy } from '#core/index.ts';
import { codes, decideWith, PROVENANCE, signed } from '../../helpers/policy-cases.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

// policies/supply-chain.yaml deciding, at fixed times (its phase-in and exception have dates).

const policy = parsePolicy(readFileSync(new URL('../../../policies/supply-chain.yaml', import.meta.url)));
const VULNS = 'https://in-toto.io/attestation/vulns/v0.1';
const provenance = {
  buildDefinition: { buildType: 'https://vouch.dev/build/generic/v1', externalParameters: {} },
  runDetails: { builder: { id: 'https://vouch.dev/demo-builder' } },
};
const scan = (score: string, at: string) => ({
  scanner: {
    uri: 'pkg:github/aquasecurity/trivy@0.50.1',
    result: [{ id: 'CVE-2026-7777', severity: [{ method: 'nvd', score }] }],
  },
  metadata: { scanFinishedOn: at },
});
const NOV = new Date('2026-11-26T12:00:00Z');

describe('policies/supply-chain.yaml', () => {
  it('promotes a release with provenance from the CI builder and a fresh clean scan, flagging the SBOM it does not enforce yet', async () => {
    const files = [
      await signed(PROVENANCE, provenance),
      await signed(VULNS, scan('low', '2026-11-26T11:00:00Z')),
    ];
    const decision = decideWith(files, policy, { now: NOV, size: 1024 });
    expect(decision.reasons).toEqual([]);
    expect(decision.accepted).toBe(true);
    expect(codes(decision.auditReasons ?? [])).toEqual(['MISSING_ATTESTATION']);
  });

  it('keeps a release with a high finding waiting for a VEX statement', async () => {
    const files = [
      await signed(PROVENANCE, provenance),
      await signed(VULNS, scan('8.1', '2026-11-26T11:00:00Z')),
    ];
    const decision = decideWith(files, policy, { now: NOV, size: 1024 });
    expect(decision.curable).toBe(true);
    expect(codes(decision.reasons)[0]).toBe('VULNERABILITY_FOUND');
  });

  it('lets the hotfix through without a scan until its exception expires', async () => {
    const files = [await signed(PROVENANCE, provenance)];
    const path = 'releases/hotfix-2026-11/app.tar.gz';
    expect(decideWith(files, policy, { now: NOV, path }).exceptions?.[0]?.approvedBy).toBe(
      'security@example.com',
    );
    expect(decideWith(files, policy, { now: new Date('2026-12-16T00:00:00Z'), path }).accepted).toBe(false);
  });

  it('enforces the SBOM from 2027 on', async () => {
    const later = new Date('2027-01-02T00:00:00Z');
    const files = [
      await signed(PROVENANCE, provenance),
      await signed(VULNS, scan('low', '2027-01-01T23:00:00Z')),
    ];
    const decision = decideWith(files, policy, { now: later, size: 1024 });
    expect(decision.accepted).toBe(false);
    expect(decision.reasons.some((r) => r.subject === 'rule releases-sbom')).toBe(true);
  });
});
