import { conditionEngine } from './condition-engine.ts';
import type { Condition } from './conditions.ts';
import { type Digests, digestsMatch, parseDigest } from './digest.ts';
import type { Reason } from './errors.ts';
import { VouchError } from './errors.ts';
import type { AllowedSigner, SignerSpec } from './signers.ts';
import {
  readScan,
  SEVERITIES,
  type Severity,
  severityRank,
  VEX_NOT_AFFECTING,
  type VexStatus,
} from './vulnerabilities.ts';

/**
 * What a policy can say beyond fixed fields: conditions (CEL), vulnerability gates, exceptions that
 * expire, and rules phased in by date. Their schemas, their compilation when the policy loads, and the
 * checks evaluation makes with them.
 */

const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$';

export interface VulnerabilitySpec {
  /** The highest severity let through: `high` lets high through and stops critical. */
  readonly maxSeverity: Severity;
  /** Vulnerability IDs (or aliases) accepted whatever their severity. */
  readonly allow?: readonly string[];
  /** OpenVEX statements by an allowed signer saying `not_affected` or `fixed` take a finding out. */
  readonly honorVex?: boolean;
  /** A scan older than this (from the earlier of its own time and its trusted signing time) fails. */
  readonly maxAgeHours?: number;
  /** Who may vouch with VEX; default the requirement's own signers. */
  readonly vexSigners?: readonly (string | SignerSpec)[];
}

export interface ExceptionSpec {
  readonly match?: readonly string[];
  readonly digest?: string;
  /** Rule names whose failures it waives, or `*` for every rule that matches. */
  readonly rules: readonly string[];
  readonly reason: string;
  readonly approvedBy: string;
  readonly expiresAt: string;
}

export const conditionsSchema = {
  type: 'array',
  items: { type: 'string', minLength: 1, maxLength: 4096 },
  minItems: 1,
  maxItems: 32,
} as const;

export const vulnerabilitiesSchema = (signerItem: object) =>
  ({
    type: 'object',
    required: ['maxSeverity'],
    additionalProperties: false,
    properties: {
      maxSeverity: { enum: [...SEVERITIES] },
      allow: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 1024 },
      honorVex: { type: 'boolean' },
      maxAgeHours: { type: 'number', exclusiveMinimum: 0, maximum: 8760 },
      vexSigners: { type: 'array', minItems: 1, items: signerItem },
    },
  }) as const;

export const timeSchema = { type: 'string', pattern: ISO_TIME } as const;

export const exceptionsSchema = (stringList: object, namePattern: string) =>
  ({
    type: 'array',
    maxItems: 256,
    items: {
      type: 'object',
      required: ['rules', 'reason', 'approvedBy', 'expiresAt'],
      additionalProperties: false,
      properties: {
        match: stringList,
        digest: { type: 'string', pattern: '^(sha256|sha512):[0-9a-fA-F]+$' },
        rules: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', anyOf: [{ const: '*' }, { pattern: namePattern }] },
        },
        reason: { type: 'string', minLength: 1, maxLength: 1024 },
        approvedBy: { type: 'string', minLength: 1, maxLength: 256 },
        expiresAt: timeSchema,
      },
    },
  }) as const;

export interface VulnerabilityGate {
  readonly maxSeverity: Severity;
  readonly allow: ReadonlySet<string>;
  readonly honorVex: boolean;
  readonly maxAgeMs?: number;
  readonly vexSigners: readonly AllowedSigner[];
}

export interface PolicyException {
  readonly index: number;
  readonly rules: readonly string[];
  readonly reason: string;
  readonly approvedBy: string;
  readonly expiresAt: Date;
  covers(path: string, digests: Digests): boolean;
}

/** An exception as a decision records it. */
export interface ExceptionUse {
  readonly rule: string;
  readonly reason: string;
  readonly approvedBy: string;
  readonly expiresAt: string;
  /** The failures it waived. */
  readonly waived: readonly Reason[];
}

export const parseTime = (text: string, where: string): Date => {
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new VouchError('PARSE_ERROR', `${where}: ${JSON.stringify(text)} is not a time`);
  return new Date(ms);
};

export const compileConditions = (sources: readonly string[] | undefined, where: string): Condition[] =>
  sources === undefined
    ? []
    : sources.map((source, index) =>
        conditionEngine().compileCondition(source, `${where}/conditions/${index}`),
      );

export function compileGate(
  spec: VulnerabilitySpec,
  vexSigners: readonly AllowedSigner[],
): VulnerabilityGate {
  return {
    maxSeverity: spec.maxSeverity,
    allow: new Set(spec.allow ?? []),
    honorVex: spec.honorVex ?? false,
    ...(spec.maxAgeHours === undefined ? {} : { maxAgeMs: spec.maxAgeHours * 3_600_000 }),
    vexSigners,
  };
}

export function compileExceptions(
  specs: readonly ExceptionSpec[] | undefined,
  ruleNames: readonly string[],
  globs: (patterns: readonly string[], where: string) => (path: string) => boolean,
  what: string,
): PolicyException[] {
  return (specs ?? []).map((spec, index) => {
    const where = `${what}: /exceptions/${index}`;
    for (const rule of spec.rules)
      if (rule !== '*' && !ruleNames.includes(rule))
        throw new VouchError('PARSE_ERROR', `${where}/rules names unknown rule "${rule}"`);
    if ((spec.match === undefined) === (spec.digest === undefined))
      throw new VouchError('PARSE_ERROR', `${where} needs exactly one of match (object-key globs) or digest`);
    const expiresAt = parseTime(spec.expiresAt, `${where}/expiresAt`);
    let covers: (path: string, digests: Digests) => boolean;
    if (spec.digest !== undefined) {
      let wanted: Digests;
      try {
        wanted = parseDigest(spec.digest);
      } catch (error) {
        throw new VouchError('PARSE_ERROR', `${where}/digest: ${(error as Error).message}`);
      }
      covers = (_path, digests) => digestsMatch(digests, wanted as Record<string, string>);
    } else {
      const matches = globs(spec.match ?? [], `${where}/match`);
      covers = (path) => matches(path);
    }
    return {
      index,
      rules: spec.rules,
      reason: spec.reason,
      approvedBy: spec.approvedBy,
      expiresAt,
      covers,
    };
  });
}

/** Exceptions still in force that expire within `withinMs` of `now`: what the sweep reports. */
export const expiringExceptions = (exceptions: readonly PolicyException[], now: Date, withinMs: number) =>
  exceptions.filter(
    (e) => e.expiresAt.getTime() > now.getTime() && e.expiresAt.getTime() <= now.getTime() + withinMs,
  );

/** Why a scan fails a gate: `curable` when a VEX statement yet to arrive could still clear it. */
export interface GateFailure {
  readonly reason: Reason;
  readonly curable: boolean;
}

const MAX_LISTED = 10;

/**
 * Checks one verified scan against a gate: readable, recent enough (from the earlier of the time it
 * names and when it was trusted to be signed), and nothing above the allowed severity that is neither
 * allowed by ID nor, with `honorVex`, declared not affecting by an allowed signer's VEX.
 */
export function checkScan(
  gate: VulnerabilityGate,
  predicate: unknown,
  context: {
    readonly source: string;
    readonly where: string;
    readonly signedAt: readonly Date[];
    readonly now: Date;
    readonly vex: ReadonlyMap<string, VexStatus>;
  },
): GateFailure | undefined {
  const { source, where } = context;
  const read = readScan(predicate);
  if ('problem' in read)
    return {
      reason: { code: 'VULNERABILITY_SCAN_INVALID', message: `${source} ${read.problem}`, subject: where },
      curable: false,
    };
  const { scan } = read;
  if (gate.maxAgeMs !== undefined) {
    const times = [...context.signedAt, ...(scan.scannedAt ? [scan.scannedAt] : [])];
    if (!scan.scannedAt)
      return {
        reason: {
          code: 'VULNERABILITY_SCAN_STALE',
          message: `${source} names no scan time; ${where} requires a scan at most ${gate.maxAgeMs / 3_600_000} h old`,
          subject: where,
        },
        curable: false,
      };
    const scanned = Math.min(...times.map((t) => t.getTime()));
    const age = context.now.getTime() - scanned;
    if (age > gate.maxAgeMs)
      return {
        reason: {
          code: 'VULNERABILITY_SCAN_STALE',
          message: `${source} scanned at ${new Date(scanned).toISOString()}, ${(age / 3_600_000).toFixed(1)} h ago; ${where} requires at most ${gate.maxAgeMs / 3_600_000} h`,
          subject: where,
        },
        curable: false,
      };
  }
  const limit = severityRank(gate.maxSeverity);
  const blocking = scan.findings.filter((finding) => {
    if (severityRank(finding.severity) <= limit) return false;
    if (finding.ids.some((id) => gate.allow.has(id))) return false;
    if (!gate.honorVex) return true;
    if (finding.suppressedBy) return false;
    return !finding.ids.some((id) => VEX_NOT_AFFECTING.has(context.vex.get(id)?.status ?? ''));
  });
  if (blocking.length === 0) return undefined;
  const listed = blocking
    .slice(0, MAX_LISTED)
    .map((f) => `${f.ids[0]} (${f.severity})`)
    .join(', ');
  const more = blocking.length > MAX_LISTED ? ` and ${blocking.length - MAX_LISTED} more` : '';
  return {
    reason: {
      code: 'VULNERABILITY_FOUND',
      message: `${source} (${scan.format}) reports ${blocking.length} vulnerabilit${blocking.length === 1 ? 'y' : 'ies'} above ${gate.maxSeverity}: ${listed}${more}${gate.honorVex ? ', with no VEX statement from an allowed signer saying not_affected or fixed' : ''}; ${where}`,
      subject: where,
    },
    // Upload order does not matter: a VEX statement about these may still arrive before the deadline.
    curable: gate.honorVex,
  };
}

/** A condition's failure as a reason: the expression quoted, the attestation named. */
export const conditionReason = (
  condition: Condition,
  why: string,
  source: string,
  where: string,
): Reason => ({
  code: 'CONDITION_FAILED',
  message: `${source}: condition ${JSON.stringify(condition.source)} ${why}; ${where}`,
  subject: where,
});
