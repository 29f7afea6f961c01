import { isRecord } from './json.ts';

/**
 * Vulnerability findings read from a scan statement's predicate, whatever wrote it. The format is
 * recognised from the content, not from the predicate type (which the policy's requirement matches):
 * - the in-toto vulns predicate (`https://in-toto.io/attestation/vulns/v0.1`): `scanner.result[]` of
 *   `{ id, severity: [{ method, score }] }`, `metadata.scanFinishedOn`;
 * - cosign's vuln predicate (`https://cosign.sigstore.dev/attestation/vuln/v1`): `scanner.result` holds
 *   the scanner's own report (Trivy JSON, Grype JSON, SARIF or CycloneDX), `metadata.scanFinishedOn`;
 * - a CycloneDX BOM (`bomFormat: CycloneDX`) with `vulnerabilities[]` (ratings, `analysis.state`);
 * - SARIF 2.1.0 (`runs[].results[]`, rule `properties.security-severity`, invocation end time).
 * OpenVEX documents (`statements[]`) say which vulnerabilities do not affect the artifact.
 */

export const SEVERITIES = ['none', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const severityRank = (severity: Severity) => SEVERITIES.indexOf(severity);

export const OPENVEX_TYPES: readonly string[] = [
  'https://openvex.dev/ns',
  'https://openvex.dev/ns/v0.2.0',
  'https://openvex.dev/ns/v0.0.1',
];

/** Most findings one scan may report; a larger report fails rather than being read in part. */
export const MAX_FINDINGS = 20_000;

export interface Finding {
  /** The identifier the scanner reported, then its aliases (CVE for a GHSA, …). */
  readonly ids: readonly string[];
  /** Unknown severities count as critical: a finding the policy cannot grade never passes as harmless. */
  readonly severity: Severity;
  /** The scan's own analysis says it does not apply (CycloneDX `analysis.state`). */
  readonly suppressedBy?: string;
}

export interface Scan {
  readonly format: 'in-toto-vulns' | 'trivy' | 'grype' | 'sarif' | 'cyclonedx';
  readonly findings: readonly Finding[];
  /** When the scan finished, as the signed statement says. */
  readonly scannedAt?: Date;
}

export type ScanResult = { readonly scan: Scan } | { readonly problem: string };

export function readScan(predicate: unknown): ScanResult {
  if (!isRecord(predicate)) return { problem: 'has no predicate' };
  const scanner = isRecord(predicate.scanner) ? predicate.scanner : undefined;
  const metadata = isRecord(predicate.metadata) ? predicate.metadata : {};
  const scanTime = time(metadata.scanFinishedOn) ?? time(metadata.scanStartedOn);
  if (scanner) {
    const result = scanner.result;
    if (Array.isArray(result)) return finish('in-toto-vulns', result, inTotoFinding, scanTime);
    const inner = readReport(result);
    if ('problem' in inner) return inner;
    return {
      scan: {
        ...inner.scan,
        ...((scanTime ?? inner.scan.scannedAt)
          ? { scannedAt: (scanTime ?? inner.scan.scannedAt) as Date }
          : {}),
      },
    };
  }
  return readReport(predicate);
}

/** A scanner's own report: Trivy JSON, Grype JSON, SARIF or a CycloneDX BOM. */
function readReport(report: unknown): ScanResult {
  if (!isRecord(report)) return { problem: 'holds no scan result' };
  if (report.bomFormat === 'CycloneDX') {
    const metadata = isRecord(report.metadata) ? report.metadata : {};
    return finish('cyclonedx', list(report.vulnerabilities), cycloneDxFinding, time(metadata.timestamp));
  }
  if (Array.isArray(report.runs) && typeof report.version === 'string') {
    const runs = report.runs.filter(isRecord);
    const results = runs.flatMap((run) => sarifResults(run));
    const ends = runs.flatMap((run) =>
      list(run.invocations).flatMap((i) => (isRecord(i) ? [time(i.endTimeUtc) ?? time(i.startTimeUtc)] : [])),
    );
    const scannedAt = ends.find((d) => d !== undefined);
    return finish('sarif', results, (f) => f as Finding | undefined, scannedAt);
  }
  if (Array.isArray(report.Results) || report.SchemaVersion !== undefined) {
    const vulns = list(report.Results).flatMap((r) => (isRecord(r) ? list(r.Vulnerabilities) : []));
    return finish('trivy', vulns, trivyFinding, time(report.CreatedAt));
  }
  if (Array.isArray(report.matches)) {
    const descriptor = isRecord(report.descriptor) ? report.descriptor : {};
    return finish('grype', report.matches, grypeFinding, time(descriptor.timestamp));
  }
  return {
    problem: 'is not a vulnerability scan Vouch reads (in-toto vulns, Trivy, Grype, SARIF, CycloneDX)',
  };
}

function finish(
  format: Scan['format'],
  entries: readonly unknown[],
  read: (entry: unknown) => Finding | undefined,
  scannedAt: Date | undefined,
): ScanResult {
  if (entries.length > MAX_FINDINGS)
    return { problem: `reports ${entries.length} findings, more than the limit of ${MAX_FINDINGS}` };
  const findings: Finding[] = [];
  for (const [index, entry] of entries.entries()) {
    const finding = read(entry);
    if (!finding) return { problem: `has a ${format} finding (#${index}) without an identifier` };
    findings.push(finding);
  }
  return { scan: { format, findings, ...(scannedAt ? { scannedAt } : {}) } };
}

/** The spec's field list nests `id` and `severity` under `vulnerability`; its example does not: both. */
function inTotoFinding(entry: unknown): Finding | undefined {
  if (!isRecord(entry)) return undefined;
  const vulnerability = isRecord(entry.vulnerability) ? entry.vulnerability : entry;
  if (!nonEmpty(vulnerability.id)) return undefined;
  const grades = list(vulnerability.severity).map((s) => (isRecord(s) ? grade(s.score) : undefined));
  return { ids: [vulnerability.id], severity: highest(grades) };
}

function trivyFinding(entry: unknown): Finding | undefined {
  if (!isRecord(entry) || !nonEmpty(entry.VulnerabilityID)) return undefined;
  return {
    ids: [entry.VulnerabilityID, ...strings(entry.VendorIDs)],
    severity: grade(entry.Severity) ?? 'critical',
  };
}

function grypeFinding(entry: unknown): Finding | undefined {
  if (!isRecord(entry) || !isRecord(entry.vulnerability) || !nonEmpty(entry.vulnerability.id))
    return undefined;
  const related = list(entry.relatedVulnerabilities).flatMap((r) =>
    isRecord(r) && nonEmpty(r.id) ? [r.id] : [],
  );
  return {
    ids: [entry.vulnerability.id, ...related],
    severity: grade(entry.vulnerability.severity) ?? 'critical',
  };
}

const CYCLONEDX_NOT_AFFECTING = new Set([
  'not_affected',
  'false_positive',
  'resolved',
  'resolved_with_pedigree',
]);

function cycloneDxFinding(entry: unknown): Finding | undefined {
  if (!isRecord(entry) || !nonEmpty(entry.id)) return undefined;
  const references = list(entry.references).flatMap((r) => (isRecord(r) && nonEmpty(r.id) ? [r.id] : []));
  const ratings = list(entry.ratings).map((r) =>
    isRecord(r) ? (grade(r.severity) ?? grade(r.score)) : undefined,
  );
  const state = isRecord(entry.analysis) ? entry.analysis.state : undefined;
  return {
    ids: [entry.id, ...references],
    severity: highest(ratings),
    ...(typeof state === 'string' && CYCLONEDX_NOT_AFFECTING.has(state)
      ? { suppressedBy: `CycloneDX analysis ${state}` }
      : {}),
  };
}

function sarifResults(run: Record<string, unknown>): unknown[] {
  const driver = isRecord(run.tool) && isRecord(run.tool.driver) ? run.tool.driver : {};
  const rules = new Map<string, Record<string, unknown>>();
  for (const rule of list(driver.rules)) if (isRecord(rule) && nonEmpty(rule.id)) rules.set(rule.id, rule);
  return list(run.results).map((result): Finding | undefined => {
    if (!isRecord(result)) return undefined;
    const ruleId = nonEmpty(result.ruleId) ? result.ruleId : undefined;
    if (!ruleId) return undefined;
    const rule = rules.get(ruleId);
    const properties = rule && isRecord(rule.properties) ? rule.properties : {};
    const level = typeof result.level === 'string' ? result.level : 'warning';
    return {
      ids: [ruleId],
      severity:
        grade(properties['security-severity']) ??
        ({ error: 'high', warning: 'medium', note: 'low', none: 'none' } as Record<string, Severity>)[
          level
        ] ??
        'critical',
    };
  });
}

/** A severity word or a CVSS score, as a grade; undefined when it is neither. */
export function grade(value: unknown): Severity | undefined {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()))) {
    const score = Number(value);
    if (!(score >= 0 && score <= 10)) return undefined;
    return score === 0 ? 'none' : score < 4 ? 'low' : score < 7 ? 'medium' : score < 9 ? 'high' : 'critical';
  }
  if (typeof value !== 'string') return undefined;
  const word = value.trim().toLowerCase();
  if (word === 'negligible' || word === 'info' || word === 'informational' || word === 'none') return 'none';
  if (word === 'moderate') return 'medium';
  return (SEVERITIES as readonly string[]).includes(word) ? (word as Severity) : undefined;
}

const highest = (grades: readonly (Severity | undefined)[]): Severity => {
  const known = grades.filter((g): g is Severity => g !== undefined);
  if (known.length === 0) return 'critical';
  return known.reduce((a, b) => (severityRank(b) > severityRank(a) ? b : a));
};

/** What a VEX document says of each vulnerability: the newest statement for an ID wins. */
export interface VexStatus {
  readonly status: string;
  readonly at: number;
  readonly source: string;
}

/** Reads an OpenVEX document's statements into `into` (ID → newest status). */
export function readVex(
  predicate: unknown,
  source: string,
  into: Map<string, VexStatus>,
): string | undefined {
  if (!isRecord(predicate) || !Array.isArray(predicate.statements)) return 'is not an OpenVEX document';
  if (predicate.statements.length > MAX_FINDINGS) return `has more than ${MAX_FINDINGS} statements`;
  const documentTime = time(predicate.timestamp)?.getTime() ?? 0;
  for (const statement of predicate.statements) {
    if (!isRecord(statement) || typeof statement.status !== 'string') continue;
    const vulnerability = statement.vulnerability;
    const ids =
      typeof vulnerability === 'string'
        ? [vulnerability]
        : isRecord(vulnerability)
          ? [vulnerability.name, vulnerability['@id'], ...list(vulnerability.aliases)].filter(nonEmpty)
          : [];
    const at = time(statement.timestamp)?.getTime() ?? documentTime;
    for (const id of ids) {
      const held = into.get(id);
      if (!held || at >= held.at) into.set(id, { status: statement.status, at, source });
    }
  }
  return undefined;
}

/** VEX statuses that take a finding out of the count. */
export const VEX_NOT_AFFECTING = new Set(['not_affected', 'fixed']);

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const strings = (value: unknown): string[] => list(value).filter(nonEmpty);
const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';
function time(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
