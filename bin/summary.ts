import {
  type AttestationReport,
  type Decision,
  describeSigner,
  type Reason,
  type SignatureReport,
} from '#core/index.ts';

/** `vouch verify`'s report of a decision, for a reader: the verdict, the root cause, each attestation. */

export interface SummaryContext {
  /** The signers the flags trust, as the policy describes them (regexps anchored, as they are applied). */
  readonly trusting?: readonly string[] | undefined;
  /** --trusted-time was given: signatures without a time of their own were judged at it. */
  readonly trustedTime?: boolean;
  /** The object key the policy matched is only the file's name. */
  readonly pathFromFileName?: boolean;
}

/** The decision for a reader: the verdict, why (the root cause first), then each attestation and note. */
export function summarise(decision: Decision, context: SummaryContext = {}): string {
  const audit = decision.verdict === 'fail' && decision.accepted ? ' (audit mode: would be rejected)' : '';
  const lines = [
    `${decision.accepted ? 'ACCEPTED' : 'REJECTED'}${audit}  ${decision.artifact.path ?? ''} ${decision.artifact.digest}`.replace(
      / {2,}/g,
      '  ',
    ),
  ];
  for (const reason of decision.reasons) {
    lines.push(`  ${describeReason(reason)}`);
    if (reason.code === 'NO_MATCHING_RULE' && context.pathFromFileName) {
      lines.push(
        '    the policy was matched against the file name; give the object key it is stored under with --path KEY',
      );
    }
  }
  lines.push(
    `  policy ${decision.policyDigest}${decision.rules.length ? `, rules: ${decision.rules.join(', ')}` : ''} (${decision.mode})`,
  );
  if (context.trusting?.length) lines.push(`  trusting ${context.trusting.join('; ')}`);
  for (const attestation of decision.attestations) lines.push(...describeAttestation(attestation, context));
  for (const note of decision.notes) lines.push(`  note: ${describeReason(note)}`);
  for (const reason of decision.auditReasons ?? []) lines.push(`  audit rule: ${describeReason(reason)}`);
  return lines.join('\n');
}

const describeReason = (reason: Reason) =>
  `${reason.code}: ${reason.subject ? `${reason.subject}: ` : ''}${reason.message}`;

function describeAttestation(attestation: AttestationReport, context: SummaryContext): string[] {
  const what = attestation.predicateType ?? 'artifact signature';
  const why = attestation.reasons[0];
  const lines: string[] = [];
  for (const signature of attestation.signatures) {
    if (!signature.signer) {
      lines.push(`  ✗ ${attestation.source}  ${what}  ${signature.error?.code ?? ''}`);
      continue;
    }
    const signed = `signed by ${describeSigner(signature.signer)} at ${signature.signingTimes?.[0]}`;
    lines.push(
      attestation.verified
        ? `  ✓ ${attestation.source}  ${what}  ${signed}`
        : // A good signature over a statement about something else: say both, so neither misleads.
          `  ✗ ${attestation.source}  ${what}  ${why?.code ?? 'not counted'} (the signature verified: ${signed})`,
    );
    const time = timeNote(signature, context);
    if (time) lines.push(`      ${time}`);
  }
  if (attestation.signatures.length === 0)
    lines.push(`  ✗ ${attestation.source}  ${what}  ${why?.code ?? ''}`);
  return lines;
}

/** Which time a keyed signature was judged at, and why that one. */
function timeNote(signature: SignatureReport, context: SummaryContext): string | undefined {
  if (signature.timeSource !== 'observed' || signature.signer?.kind !== 'key') return undefined;
  return context.trustedTime
    ? 'the bundle has no transparency-log time or RFC 3161 timestamp: the key was checked at --trusted-time'
    : 'the bundle has no transparency-log time or RFC 3161 timestamp, and a signature’s own claim of time is never trusted: the key was checked at the time of this run (--trusted-time sets another)';
}
