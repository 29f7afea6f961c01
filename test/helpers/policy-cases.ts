import { createHash } from 'node:crypto';
import {
  type Attestation,
  compilePolicy,
  createStatement,
  type Decision,
  evaluate,
  loadConditionEngine,
  type PolicySpec,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import { type TestKey, testKey } from './keys.ts';

// Policies here may hold conditions: the CEL engine is loaded once for every test that uses them.
await loadConditionEngine();

/** An artifact, keys and signed statements about it: what the policy-feature tests evaluate. */
export const BYTES = Buffer.from('release bits for policy features');
export const SHA256 = createHash('sha256').update(BYTES).digest('hex');
export const T0 = new Date('2026-06-01T12:30:00Z');
export const PROVENANCE = 'https://slsa.dev/provenance/v1';
export const SIGNER = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/policy-signer');
export const STRANGER = testKey('p256', 'arn:aws:kms:eu-west-1:000000000000:key/stranger');

export async function signed(
  predicateType: string,
  predicate: Record<string, unknown>,
  key: TestKey = SIGNER,
  digest = SHA256,
): Promise<string> {
  const statement = createStatement(
    [{ name: 'app.tar.gz', digests: { sha256: digest } }],
    predicateType,
    predicate,
  );
  return JSON.stringify(await signStatement(statement, key.sign));
}

type RequirementSpec = PolicySpec['rules'][number]['require'][number];

export const policyWith = (
  requirement: Partial<RequirementSpec>,
  extra: Partial<PolicySpec> = {},
  rule: Partial<PolicySpec['rules'][number]> = {},
) =>
  compilePolicy(
    {
      version: 1,
      ...extra,
      rules: [
        {
          name: 'releases',
          match: ['releases/**'],
          ...rule,
          require: [{ type: PROVENANCE, signers: [{ keyId: SIGNER.keyId }], ...requirement }],
        },
      ],
    },
    'sha256:test',
  );

export function decideWith(
  files: readonly string[],
  policy: ReturnType<typeof policyWith>,
  options: { now?: Date; size?: number; path?: string; observedAt?: Date } = {},
): Decision {
  const attestations: Attestation[] = files.flatMap(
    (file, i) => parseAttestationFile(file, `att${i}.sigstore.json`).attestations,
  );
  const now = options.now ?? T0;
  return evaluate({
    artifact: {
      path: options.path ?? 'releases/app.tar.gz',
      digests: { sha256: SHA256 },
      ...(options.size === undefined ? {} : { size: options.size }),
    },
    attestations,
    policy,
    keys: staticKeyLookup(
      [SIGNER, STRANGER].map((key) => key.trusted({ origin: 'registry', validFrom: new Date('2026-01-01') })),
    ),
    observedAt: options.observedAt ?? now,
    now,
  });
}

export const codes = (reasons: readonly { code: string }[]) => reasons.map((r) => r.code);

/** A small valid policy file, as `vouch policy sign` takes it. */
export const POLICY_TEXT = `version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [{ registry: true }]
`;
