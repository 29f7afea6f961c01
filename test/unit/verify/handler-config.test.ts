import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsClients } from '#adapters/clients.ts';
import { CurrentTrustRoots } from '#adapters/trust-roots.ts';
import { loadPolicySyntax } from '#core/index.ts';
import { readVerifierConfig } from '../../../lambdas/verify/config.ts';
import { pipelineDeps } from '../../../lambdas/verify/wiring.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const depsFromEnv = (env: NodeJS.ProcessEnv) => pipelineDeps(readVerifierConfig(env), awsClients(env), env);

const dir = mkdtempSync(join(tmpdir(), 'vouch-handler-config-'));
const policyPath = join(dir, 'policy.yaml');
writeFileSync(
  policyPath,
  `version: 1
rules:
  - name: releases
    match: ["**"]
    require:
      - type: https://slsa.dev/provenance/v1
        signers: [{ issuer: https://token.actions.githubusercontent.com, identity: x, instance: github }]
`,
);
const env = {
  AWS_REGION: 'eu-west-1',
  VOUCH_RECORDS_TABLE: 'records',
  VOUCH_INDEX_TABLE: 'index',
  VOUCH_KEYS_TABLE: 'keys',
  VOUCH_POLICY_PATH: policyPath,
  VOUCH_VSA_KEY_ID: 'alias/vouch-vsa',
  VOUCH_STAGING_BUCKET: 'staging',
  VOUCH_DEPLOYMENT_BUCKET: 'deployment',
};

describe('the verifier configuration', () => {
  it('fails at cold start when the policy trusts an instance the verifier is not configured for', () => {
    expect(() => depsFromEnv(env)).toThrow(
      'configuration: the policy trusts Sigstore instance(s) github, which VOUCH_TRUST_INSTANCES does not list',
    );
  });

  it('holds the trust refresher’s roots for every configured instance, pinned public-good until the first refresh', () => {
    const deps = depsFromEnv({
      ...env,
      VOUCH_TRUST_INSTANCES: '[{"name":"public-good"},{"name":"github"}]',
      VOUCH_TRUST_BUCKET: 'trust',
    });
    expect(deps.trustRoot).toBeInstanceOf(CurrentTrustRoots);
    const roots = deps.trustRoot as CurrentTrustRoots;
    expect(roots.configured()).toEqual(['public-good', 'github']);
    expect(roots.get('public-good')?.source).toBe('pinned');
    expect(roots.get('github')).toBeUndefined();
  });
});
