import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grade, readScan } from '#core/index.ts';
import { codes, decideWith, policyWith, STRANGER, signed } from '../../helpers/policy-cases.ts';

/** Written after each format's published specification example: see test/fixtures/scans/README.md. */
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/scans/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
const VULNS = 'https://in-toto.io/attestation/vulns/v0.1';
const COSIGN_VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';
const CYCLONEDX = 'https://cyclonedx.org/bom';
const SARIF = 'https://docs.oasis-open.org/sarif/sarif/2.1.0';
const OPENVEX = 'https://openvex.dev/ns/v0.2.0';
const SCANNED = new Date('2026-06-01T12:30:00Z');

describe('#readScan', () => {
  it.each([
    [
      'in-toto-vulns.json',
      'in-toto-vulns',
      ['CVE-2026-1001:medium', 'CVE-2026-1002:critical', 'GHSA-fxph-q3j8-mv87:high'],
    ],
    ['cosign-trivy.json', 'trivy', ['CVE-2026-2001:high', 'CVE-2026-2002:low']],
    ['cosign-grype.json', 'grype', ['GHSA-jfh8-c2jp-5v3q:critical', 'CVE-2026-3001:none']],
    ['cyclonedx.json', 'cyclonedx', ['CVE-2026-4001:critical', 'CVE-2026-4002:high']],
    ['sarif.json', 'sarif', ['CVE-2026-5001:critical', 'CVE-2026-5002:low']],
  ])('reads %s as %s, graded', (file, format, findings) => {
    const read = readScan(fixture(file));
    if (!('scan' in read)) throw new Error(read.problem);
    expect(read.scan.format).toBe(format);
    expect(read.scan.findings.map((f) => `${f.ids[0]}:${f.severity}`)).toEqual(findings);
    expect(read.scan.scannedAt?.toISOString()).toMatch(/^2026-06-01T11:5/);
  });

  it('keeps aliases, so VEX and allow lists can name either', () => {
    const read = readScan(fixture('cosign-grype.json'));
    expect('scan' in read && read.scan.findings[0]?.ids).toEqual(['GHSA-jfh8-c2jp-5v3q', 'CVE-2021-44228']);
  });

  it('refuses what is not a scan, and a finding without an ID', () => {
    expect(readScan({ builder: {} })).toMatchObject({
      problem: expect.stringMatching(/is not a vulnerability scan/),
    });
    expect(readScan({ scanner: { result: [{ severity: [] }] } })).toMatchObject({
      problem: expect.stringMatching(/without an identifier/),
    });
  });

  it('refuses a report longer than the limit rather than reading part of it', () => {
    const result = Array.from({ length: 20_001 }, (_, i) => ({ id: `CVE-${i}`, severity: [] }));
    expect(readScan({ scanner: { result } })).toMatchObject({
      problem: expect.stringMatching(/more than the limit/),
    });
  });

  it('grades an unknown severity as critical', () => {
    const read = readScan({
      scanner: { result: [{ id: 'CVE-1', severity: [{ method: 'x', score: 'whatever' }] }] },
    });
    expect('scan' in read && read.scan.findings[0]?.severity).toBe('critical');
    expect(grade('11')).toBeUndefined();
    expect(grade('Moderate')).toBe('medium');
  });
});

describe('#evaluate with a vulnerability gate', () => {
  const gate = (vulnerabilities: Record<string, unknown>, type = VULNS) =>
    policyWith({ type, vulnerabilities: vulnerabilities as never });

  it('rejects a scan reporting a critical above maxSeverity high, naming it', async () => {
    const decision = decideWith(
      [await signed(VULNS, fixture('in-toto-vulns.json'))],
      gate({ maxSeverity: 'high' }),
    );
    expect(decision.accepted).toBe(false);
    expect(decision.curable).toBe(false);
    expect(codes(decision.reasons)[0]).toBe('VULNERABILITY_FOUND');
    expect(decision.reasons[0]?.message).toContain(
      'reports 1 vulnerability above high: CVE-2026-1002 (critical)',
    );
  });

  it('accepts when the IDs above the threshold are allowed', async () => {
    const policy = gate({ maxSeverity: 'medium', allow: ['CVE-2026-1002', 'GHSA-fxph-q3j8-mv87'] });
    expect(decideWith([await signed(VULNS, fixture('in-toto-vulns.json'))], policy).accepted).toBe(true);
  });

  it('with honorVex, accepts what an allowed signer’s OpenVEX says is not_affected', async () => {
    const policy = gate({ maxSeverity: 'high', honorVex: true });
    const files = [
      await signed(VULNS, fixture('in-toto-vulns.json')),
      await signed(OPENVEX, fixture('openvex.json')),
    ];
    expect(decideWith(files, policy).reasons).toEqual([]);
  });

  it('with honorVex, waits (pending) while no VEX covers a finding: one may still arrive', async () => {
    const decision = decideWith(
      [await signed(VULNS, fixture('in-toto-vulns.json'))],
      gate({ maxSeverity: 'high', honorVex: true }),
    );
    expect(decision.curable).toBe(true);
    expect(codes(decision.reasons)[0]).toBe('VULNERABILITY_FOUND');
  });

  it('ignores VEX from a signer it does not allow', async () => {
    const files = [
      await signed(VULNS, fixture('in-toto-vulns.json')),
      await signed(OPENVEX, fixture('openvex.json'), STRANGER),
    ];
    const decision = decideWith(files, gate({ maxSeverity: 'high', honorVex: true }));
    expect(decision.accepted).toBe(false);
  });

  it('takes the newest VEX statement for an ID: affected after not_affected counts', async () => {
    const files = [
      await signed(COSIGN_VULN, fixture('cosign-trivy.json')),
      await signed(OPENVEX, fixture('openvex.json')),
    ];
    const decision = decideWith(files, gate({ maxSeverity: 'medium', honorVex: true }, COSIGN_VULN));
    expect(decision.reasons[0]?.message).toContain('CVE-2026-2001 (high)');
  });

  it('matches VEX by alias (a Grype GHSA finding, a VEX about its CVE)', async () => {
    const files = [
      await signed(COSIGN_VULN, fixture('cosign-grype.json')),
      await signed(OPENVEX, fixture('openvex.json')),
    ];
    expect(decideWith(files, gate({ maxSeverity: 'low', honorVex: true }, COSIGN_VULN)).reasons).toEqual([]);
  });

  it('honours a CycloneDX analysis state only with honorVex', async () => {
    const file = await signed(CYCLONEDX, fixture('cyclonedx.json'));
    expect(decideWith([file], gate({ maxSeverity: 'high', honorVex: true }, CYCLONEDX)).reasons).toEqual([]);
    const strict = decideWith([file], gate({ maxSeverity: 'high' }, CYCLONEDX));
    expect(strict.reasons[0]?.message).toContain('CVE-2026-4001 (critical)');
  });

  it('reads SARIF in a statement', async () => {
    const decision = decideWith(
      [await signed(SARIF, fixture('sarif.json'))],
      gate({ maxSeverity: 'high' }, SARIF),
    );
    expect(decision.reasons[0]?.message).toContain(
      '(sarif) reports 1 vulnerability above high: CVE-2026-5001',
    );
  });

  describe('maxAgeHours', () => {
    it('accepts a scan younger than the limit', async () => {
      const policy = gate({ maxSeverity: 'critical', maxAgeHours: 24 });
      expect(
        decideWith([await signed(VULNS, fixture('in-toto-vulns.json'))], policy, { now: SCANNED }).accepted,
      ).toBe(true);
    });

    it('fails a stale scan', async () => {
      const policy = gate({ maxSeverity: 'critical', maxAgeHours: 24 });
      const later = new Date(SCANNED.getTime() + 30 * 3_600_000);
      const decision = decideWith([await signed(VULNS, fixture('in-toto-vulns.json'))], policy, {
        now: later,
      });
      expect(codes(decision.reasons)[0]).toBe('VULNERABILITY_SCAN_STALE');
      expect(decision.accepted).toBe(false);
    });

    it('dates a scan claiming a future time from when it was trusted to be signed', async () => {
      const scan = { ...fixture('in-toto-vulns.json'), metadata: { scanFinishedOn: '2030-01-01T00:00:00Z' } };
      const policy = gate({ maxSeverity: 'critical', maxAgeHours: 24 });
      const now = new Date('2026-06-10T00:00:00Z');
      const decision = decideWith([await signed(VULNS, scan)], policy, {
        now,
        observedAt: new Date('2026-06-01T00:00:00Z'),
      });
      expect(codes(decision.reasons)[0]).toBe('VULNERABILITY_SCAN_STALE');
    });

    it('fails a scan that names no time', async () => {
      const { metadata: _, ...scan } = fixture('in-toto-vulns.json');
      const decision = decideWith(
        [await signed(VULNS, scan)],
        gate({ maxSeverity: 'critical', maxAgeHours: 24 }),
      );
      expect(decision.reasons[0]?.message).toContain('names no scan time');
    });
  });

  it('rejects an unreadable scan from an allowed signer', async () => {
    const decision = decideWith([await signed(VULNS, { nothing: true })], gate({ maxSeverity: 'critical' }));
    expect(codes(decision.reasons)[0]).toBe('VULNERABILITY_SCAN_INVALID');
  });
});
