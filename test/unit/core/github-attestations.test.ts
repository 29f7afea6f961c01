import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createStatement,
  loadNamedTrustRoot,
  loadPolicySyntax,
  namedTrustRoot,
  parsePolicy,
  type SignerSpec,
  trustRootSet,
} from '#core/index.ts';
import { decideCase } from '../../helpers/conformance.ts';
import {
  ARTIFACT_DIGESTS,
  codes,
  decide,
  firstSignature,
  PROVENANCE_V1,
  policyFor,
  tampered,
} from '../../helpers/decide.ts';
import {
  CONFORMANCE_IDENTITY,
  CONFORMANCE_ISSUER,
  FIXTURES_AVAILABLE,
  GITHUB_TRUSTED_ROOT,
} from '../../helpers/fixtures.ts';
import {
  GITHUB_LIKE,
  type GithubWorkflowClaims,
  keylessBundle,
  testInstance,
} from '../../helpers/sigstore/index.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const ACTIONS = 'https://token.actions.githubusercontent.com';
const REPOSITORY = 'https://github.com/acme/app';
const WORKFLOW = `${REPOSITORY}/.github/workflows/release.yml@refs/tags/v1.2.0`;
const COMMIT = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';
const CLAIMS: GithubWorkflowClaims = {
  buildSignerUri: WORKFLOW,
  buildSignerDigest: COMMIT,
  runnerEnvironment: 'github-hosted',
  sourceRepositoryUri: REPOSITORY,
  sourceRepositoryDigest: COMMIT,
  sourceRepositoryRef: 'refs/tags/v1.2.0',
  buildTrigger: 'push',
  sourceRepositoryVisibility: 'private',
};

/** Provenance as actions/attest-build-provenance writes it (GitHub's workflow build type). */
const provenance = createStatement([{ name: 'app.tar.gz', digests: ARTIFACT_DIGESTS }], PROVENANCE_V1, {
  buildDefinition: {
    buildType: 'https://actions.github.io/buildtypes/workflow/v1',
    externalParameters: {
      workflow: { ref: 'refs/tags/v1.2.0', repository: REPOSITORY, path: '.github/workflows/release.yml' },
    },
  },
  runDetails: { builder: { id: WORKFLOW } },
});

/** GitHub's own instance for private repositories: a CA and a TSA, no logs. */
const github = testInstance(GITHUB_LIKE);
const roots = trustRootSet([
  { ...loadNamedTrustRoot('public-good'), instance: 'public-good' },
  namedTrustRoot(Buffer.from(JSON.stringify(github.trustedRoot)), { instance: 'github', source: 'tuf' }),
]);
const attest = (claims: GithubWorkflowClaims = CLAIMS) =>
  keylessBundle({
    instance: github,
    content: { statement: provenance },
    identity: { san: { uri: claims.buildSignerUri ?? WORKFLOW }, issuer: ACTIONS, github: claims },
  });
const genuine = attest();

/** What `gh attestation verify --repo acme/app --signer-workflow … --deny-self-hosted-runners` checks. */
const ghVerify: SignerSpec = {
  issuer: ACTIONS,
  identityRegexp: 'https://github\\.com/acme/app/\\.github/workflows/.*',
  instance: 'github',
  sourceRepository: REPOSITORY,
  sourceRef: 'refs/tags/v*',
  sourceDigest: COMMIT,
  signerWorkflow: `${REPOSITORY}/.github/workflows/release.yml@refs/tags/*`,
  runnerEnvironment: 'github-hosted',
};
const verify = (bundle: Parameters<typeof decide>[0], signer: SignerSpec = ghVerify) =>
  decide(bundle, { trustRoot: roots, policy: policyFor([signer]) });

describe('GitHub artifact attestations (private repository: GitHub’s instance, no logs)', () => {
  it('verify under the github root with every certificate requirement met', () => {
    const decision = verify(genuine);
    expect(decision.reasons).toEqual([]);
    expect(firstSignature(decision)).toMatchObject({
      timeSource: 'timestamp-authority',
      trustRoot: { instance: 'github', source: 'tuf' },
      signer: {
        kind: 'keyless',
        claims: { sourceRepositoryUri: REPOSITORY, runnerEnvironment: 'github-hosted' },
      },
    });
  });

  it.each([
    [
      'a self-hosted runner',
      { runnerEnvironment: 'self-hosted' },
      /runner environment "self-hosted" is not github-hosted/,
    ],
    [
      'another repository',
      { sourceRepositoryUri: 'https://github.com/acme/fork' },
      /source repository "https:\/\/github\.com\/acme\/fork" is not/,
    ],
    [
      'a branch, not a tag',
      { sourceRepositoryRef: 'refs/heads/main' },
      /source ref "refs\/heads\/main" does not match refs\/tags\/v\*/,
    ],
    ['another commit', { sourceRepositoryDigest: 'b'.repeat(40) }, /source digest "b{40}" is not/],
    [
      'another workflow',
      { buildSignerUri: `${REPOSITORY}/.github/workflows/debug.yml@refs/tags/v1.2.0` },
      /signer workflow ".*debug\.yml@refs\/tags\/v1\.2\.0" does not match/,
    ],
    ['no runner claim at all', { runnerEnvironment: undefined }, /runner environment \(absent\)/],
  ] as const)('refuse %s with SIGNER_NOT_ALLOWED saying which claim', (_what, change, why) => {
    const decision = verify(attest({ ...CLAIMS, ...change }));
    expect(decision.accepted).toBe(false);
    expect(codes(decision)[0]).toBe('SIGNER_NOT_ALLOWED');
    expect(decision.reasons[0]?.message).toMatch(why);
  });

  it('refuse, after verification too, a signer whose identity is allowed but whose claims are not', () => {
    // The identity pre-screen reads claims unverified; a second requirement gets the bundle verified, and
    // the claim check still refuses it for the first.
    const policy = parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [
          {
            name: 'release',
            match: ['**'],
            require: [
              { type: PROVENANCE_V1, signers: [ghVerify] },
              {
                type: PROVENANCE_V1,
                signers: [{ ...ghVerify, runnerEnvironment: undefined, sourceRef: 'refs/**' }],
              },
            ],
          },
        ],
      }),
    );
    const decision = decide(attest({ ...CLAIMS, runnerEnvironment: 'self-hosted' }), {
      trustRoot: roots,
      policy,
    });
    expect(decision.accepted).toBe(false);
    expect(decision.attestations[0]?.verified).toBe(true);
    expect(decision.reasons.map((r) => r.code)).toEqual(['SIGNER_NOT_ALLOWED', 'MISSING_ATTESTATION']);
    expect(decision.reasons.map((r) => r.message).join('\n')).toMatch(
      /verified under the github root, but its runner environment "self-hosted" is not github-hosted/,
    );
  });

  it('reject a copy whose certificate was edited to claim a tag (CERTIFICATE_INVALID)', () => {
    // Same length, so the DER stays well-formed: only the CA's signature over it breaks.
    const branch = attest({ ...CLAIMS, sourceRepositoryRef: 'refs/heads/v1.2.0' });
    const forged = tampered(branch, (b) => {
      const der = Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
      const at = der.indexOf('refs/heads/v1.2.0');
      der.write('refs/tags/v1.2.0', at);
      der.write('/', at + 'refs/tags/v1.2.0'.length);
      b.verificationMaterial.certificate.rawBytes = der.toString('base64');
    });
    const decision = verify(forged, { ...ghVerify, sourceRef: 'refs/tags/v1.2.0/' });
    expect(decision.accepted).toBe(false);
    expect(firstSignature(decision)?.error?.code).toBe('CERTIFICATE_INVALID');
  });

  it('reject a copy whose provenance was edited (the envelope signature no longer covers it)', () => {
    const forged = tampered(genuine, (b) => {
      const statement = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString());
      statement.predicate.buildDefinition.externalParameters.workflow.repository =
        'https://github.com/acme/fork';
      b.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    });
    expect(firstSignature(verify(forged))?.error?.code).toBe('SIGNATURE_INVALID');
  });

  it('reject the same bundle for a signer of the public-good instance', () => {
    const decision = verify(genuine, { ...ghVerify, instance: 'public-good' });
    expect(decision.accepted).toBe(false);
    // GitHub's timestamp authority is not one of public-good's: the bundle does not verify there.
    expect(decision.reasons.map((r) => r.code)).toEqual(['TIMESTAMP_INVALID', 'MISSING_ATTESTATION']);
  });

  it('combine with the provenance checks: GitHub’s build type names its source', () => {
    const policy = parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [
          {
            name: 'release',
            match: ['**'],
            require: [
              {
                type: PROVENANCE_V1,
                signers: [ghVerify],
                sourceRepositories: ['https://github.com/acme/fork'],
              },
            ],
          },
        ],
      }),
    );
    expect(codes(decide(genuine, { trustRoot: roots, policy }))).toContain('SOURCE_NOT_ALLOWED');
  });
});

describe('certificate requirements in the policy file', () => {
  const load = (extra: Record<string, unknown>) =>
    parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [{ name: 'r', match: ['**'], require: [{ type: 't', signers: [{ ...ghVerify, ...extra }] }] }],
      }),
    );

  it('are described in what the rule allows', () => {
    expect(load({}).rules[0]?.requirements[0]?.signers[0]?.description).toMatch(
      /on github, source https:\/\/github\.com\/acme\/app, ref refs\/tags\/v\*, commit a94a8fe.*, workflow .*, runner github-hosted$/,
    );
  });

  it.each([
    ['a source digest that is not a commit', { sourceDigest: 'main' }, /signers\/0/],
    [
      'a negated ref glob',
      { sourceRef: '!refs/heads/main' },
      /sourceRef: "!refs\/heads\/main" is a negation/,
    ],
    ['an extended glob', { signerWorkflow: `${REPOSITORY}/@(a|b).yml` }, /signerWorkflow: .* extended glob/],
    ['an empty runner environment', { runnerEnvironment: '' }, /signers\/0/],
  ])('refuse %s when the policy loads', (_what, extra, message) => {
    expect(() => load(extra)).toThrow(message);
  });

  it('are refused on a key entry', () => {
    expect(() =>
      parsePolicy(
        JSON.stringify({
          version: 1,
          rules: [
            { name: 'r', match: ['**'], require: [{ type: 't', signers: [{ keyId: 'k', sourceRef: 'x' }] }] },
          ],
        }),
      ),
    ).toThrow(/signers\/0/);
  });
});

describe.skipIf(!FIXTURES_AVAILABLE)('real GitHub data (../shared/fixtures)', () => {
  // sigstore-conformance's happy-path-intoto-in-dsse-v3: provenance as actions/attest-build-provenance
  // writes it, signed in a GitHub Actions workflow (public-good: Fulcio with GitHub's claims, Rekor).
  const beacon = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon';
  const signer: SignerSpec = {
    issuer: CONFORMANCE_ISSUER,
    identity: CONFORMANCE_IDENTITY,
    sourceRepository: beacon,
    sourceRef: 'refs/heads/main',
    signerWorkflow: `${beacon}/.github/workflows/*.yml@refs/heads/main`,
    runnerEnvironment: 'github-hosted',
  };

  it('an attestation in GitHub’s format verifies with every certificate requirement met', () => {
    const { codes: reasons, decision } = decideCase('happy-path-intoto-in-dsse-v3', signer);
    expect(reasons).toEqual([]);
    expect(firstSignature(decision as never)?.signer).toMatchObject({
      claims: { sourceRepositoryUri: beacon, buildTrigger: 'workflow_dispatch' },
    });
  });

  it('is refused for a signer that wants a tag, saying which claim', () => {
    const refused = decideCase('happy-path-intoto-in-dsse-v3', { ...signer, sourceRef: 'refs/tags/*' });
    expect(refused.codes[0]).toBe('SIGNER_NOT_ALLOWED');
    expect(refused.messages[0]).toMatch(/source ref "refs\/heads\/main" does not match refs\/tags\/\*/);
  });

  it('GitHub’s own trusted root loads: every authority has a validity start, and it lists no logs', () => {
    const root = loadNamedTrustRoot('github', GITHUB_TRUSTED_ROOT);
    expect(root.root.tlogs).toEqual([]);
    expect(root.root.ctlogs).toEqual([]);
    expect(root.root.certificateAuthorities.length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(GITHUB_TRUSTED_ROOT, 'utf8')).timestampAuthorities.length).toBeGreaterThan(
      0,
    );
  });

  it('under GitHub’s real root, a bundle of another CA is refused for its TSA and CA, not for missing logs', () => {
    const real = trustRootSet([loadNamedTrustRoot('github', GITHUB_TRUSTED_ROOT)]);
    const error = firstSignature(decide(genuine, { trustRoot: real, policy: policyFor([ghVerify]) }))?.error;
    expect(['TIMESTAMP_INVALID', 'CERTIFICATE_INVALID']).toContain(error?.code);
    expect(error?.message).not.toMatch(/SCTs|tlog entries/);
  });
});
