// Mutation testing of the security core: `npm run mutation` (mutation/run.mjs). Not part of `npm test`.

/** The security core: what decides whether bytes are trusted. The README's score is over these files. */
export const SECURITY_CORE = [
  'lambdas/core/attestation.ts',
  'lambdas/core/bundle-checks.ts',
  'lambdas/core/certificate-claims.ts',
  'lambdas/core/digest.ts',
  'lambdas/core/encoding.ts',
  'lambdas/core/evaluate.ts',
  'lambdas/core/globs.ts',
  'lambdas/core/json.ts',
  'lambdas/core/keyless.ts',
  'lambdas/core/keys.ts',
  'lambdas/core/objects.ts',
  'lambdas/core/paths.ts',
  'lambdas/core/policy.ts',
  'lambdas/core/policy-syntax.ts',
  'lambdas/core/prehashed.ts',
  'lambdas/core/provenance.ts',
  'lambdas/core/requirements.ts',
  'lambdas/core/signatures.ts',
  'lambdas/core/signers.ts',
  'lambdas/core/statement.ts',
  'lambdas/core/verify-attestations.ts',
  'lambdas/core/vsa.ts',
];

/** Everything mutated: the whole core, the promotion and the deployer's check. */
export const MUTATED = [
  'lambdas/core/**/*.ts',
  'lambdas/verify/promote.ts',
  'lambdas/adapters/s3-store.ts',
  'lambdas/adapters/deployer.ts',
];

export default {
  testRunner: 'vitest',
  vitest: { configFile: 'mutation/vitest.config.ts', pool: 'forks' },
  coverageAnalysis: 'perTest',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  // TypeScript 7 type-checks each mutant, as `tsc` does for the project (see mutation/README.md).
  typescriptChecker: { experimentalNativePreview: true, prioritizePerformanceOverAccuracy: true },
  // VOUCH_MUTATE=core: the security core only (the README's score); or a comma-separated list of files.
  mutate:
    process.env.VOUCH_MUTATE === 'core'
      ? SECURITY_CORE
      : process.env.VOUCH_MUTATE
        ? process.env.VOUCH_MUTATE.split(',')
        : MUTATED,
  ignorePatterns: [
    'cdk.out',
    'dist',
    'dist.*',
    '.vouch',
    'coverage',
    'mutation/node_modules',
    'mutation/reports',
  ],
  // Mutants evaluated when a module loads (constants, schemas, regexes at module scope) need every test
  // file re-imported for each: hours on two cores. `npm run mutation -- --ignoreStatic false` runs them too.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'mutation/reports/stryker-incremental.json',
  reporters: ['progress', 'clear-text', 'json', 'html'],
  jsonReporter: { fileName: 'mutation/reports/mutation.json' },
  htmlReporter: { fileName: 'mutation/reports/mutation.html' },
  clearTextReporter: { allowColor: false, logTests: false },
  thresholds: { high: 90, low: 80, break: null },
  concurrency: Number(process.env.VOUCH_MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 10000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
