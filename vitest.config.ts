import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default for `run` is one worker fewer than the cores: one worker on a 2-core machine, while
    // most files wait on child processes and local servers as much as they compute.
    maxWorkers: 2,
    // A worker runs file after file in one process: the AWS SDK, aws-cdk-lib and the Sigstore libraries are
    // loaded once per worker, not once per file. Each test file is still evaluated afresh; what they share
    // are modules without test state (no test mocks a module, stubs globals or writes process.env).
    isolate: false,
    // Node runs the TypeScript itself (type stripping; tsconfig's `erasableSyntaxOnly` keeps every file
    // strippable) instead of Vite transforming and evaluating each module: ~12 % less CPU for the suite.
    // Nothing here needs Vite's runner: no module mocks, no `vi.resetModules` (a cold start is a process).
    experimental: { viteModuleRunner: false },
    reporters: ['default'],
    // Says once, when ../shared/fixtures is absent, which tests skip and why; builds the CLI the tests run.
    globalSetup: ['test/helpers/global-setup.ts', 'test/helpers/build-cli.ts'],
    // `npm run coverage`: what the suite executes of the code that ships (the Lambdas, the CLI, the stack).
    coverage: {
      provider: 'v8',
      include: ['lambdas/**/*.ts', 'bin/**/*.ts', 'lib/**/*.ts', 'local/**/*.ts'],
      reporter: ['text-summary', 'html'],
      reportsDirectory: 'coverage',
    },
    // Handlers log and emit metrics as JSON lines; tests assert on records, not on logs.
    env: { POWERTOOLS_LOG_LEVEL: 'CRITICAL', POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_DEV: 'false' },
  },
});
