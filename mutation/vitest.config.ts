import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.ts';

/**
 * The tests Stryker runs against each mutant: the ones that exercise the mutated code in this process.
 * Tests of the built binary run dist/vouch.mjs in a child process, which never sees a mutant; the
 * integration and infra tests start servers or synthesize stacks, which is slow and proves nothing more
 * about these files than the unit tests that call them directly.
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    ...base.test,
    include: [
      'test/unit/core/**/*.test.ts',
      'test/unit/verify/**/*.test.ts',
      'test/unit/adapters/**/*.test.ts',
      'test/unit/trust/**/*.test.ts',
      'test/unit/rotate/**/*.test.ts',
    ],
    // Stryker's runner switches mutants inside Vite's module runner: keep it for mutation runs.
    experimental: { ...base.test?.experimental, viteModuleRunner: true },
    // No CLI build: nothing here runs the binary.
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
