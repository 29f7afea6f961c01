import { warnIfFixturesMissing } from './fixtures.ts';

/** Vitest global setup: runs once per `vitest run`, before any test file. */
export default function setup(): void {
  warnIfFixturesMissing();
}
