import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  evaluate,
  keyValidAt,
  parseAttestationFile,
  signStatement,
  staticKeyLookup,
  type TrustedKey,
} from '#core/index.ts';
import { keySignaturesStillValid } from '../../../lambdas/core/evaluate.ts';
import { testKey } from '../../helpers/keys.ts';

// Boundary tables for a key's window: a signature whose trusted time is 1 ms either side of validFrom,
// validUntil and the revocation's effective time, and exactly at it. The window is [validFrom, validUntil]
// (both ends included) and a revocation takes effect at its time (README, "Keys").

const T = new Date('2026-06-01T12:00:00.000Z').getTime();
const at = (offsetMs: number) => new Date(T + offsetMs);
const key = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/window');

type Expected = 'valid' | 'KEY_NOT_VALID_AT_TIME' | 'KEY_REVOKED';
const windows: { name: string; window: Partial<TrustedKey>; table: [number, Expected][] }[] = [
  {
    name: 'validFrom',
    window: { validFrom: at(0) },
    table: [
      [-1, 'KEY_NOT_VALID_AT_TIME'],
      [0, 'valid'],
      [1, 'valid'],
    ],
  },
  {
    name: 'validUntil',
    window: { validFrom: at(-3_600_000), validUntil: at(0) },
    table: [
      [-1, 'valid'],
      [0, 'valid'],
      [1, 'KEY_NOT_VALID_AT_TIME'],
    ],
  },
  {
    name: 'revocation',
    window: { validFrom: at(-3_600_000), revokedAt: at(0), status: 'revoked', revocationReason: 'leaked' },
    table: [
      [-1, 'valid'],
      [0, 'KEY_REVOKED'],
      [1, 'KEY_REVOKED'],
    ],
  },
  {
    // A revocation before the window's end wins over the window: the code says revoked, not expired.
    name: 'revocation inside a bounded window',
    window: { validFrom: at(-3_600_000), validUntil: at(3_600_000), revokedAt: at(0), status: 'revoked' },
    table: [
      [-1, 'valid'],
      [0, 'KEY_REVOKED'],
      [3_600_001, 'KEY_REVOKED'],
    ],
  },
];

const cases = windows.flatMap(({ name, window, table }) =>
  table.map(([offsetMs, expected]) => ({
    name,
    window,
    offsetMs,
    expected,
    t: offsetMs === 0 ? 't' : `t${offsetMs > 0 ? '+' : '−'}${Math.abs(offsetMs)} ms`,
  })),
);

const outcome = (validity: ReturnType<typeof keyValidAt>): Expected =>
  validity.valid ? 'valid' : validity.code;

describe('keyValidAt at the edges of a key window', () => {
  it.each(cases)('$name, signed at $t: $expected', ({ window, offsetMs, expected }) => {
    const validity = keyValidAt(key.trusted(window), at(offsetMs));
    expect(outcome(validity)).toBe(expected);
    if (!validity.valid) expect(validity.message).toContain(at(offsetMs).toISOString());
  });
});

// The same tables through the whole keyed path: a DSSE bundle signed by the key, evaluated with its
// trusted time at the edge (a keyed bundle without a timestamp is judged at `observedAt`), then the
// pre-promotion re-check of the accepted decision against the key as it is.
const bytes = Buffer.from('window bits');
const artifact = {
  path: 'releases/app.tar.gz',
  digests: { sha256: createHash('sha256').update(bytes).digest('hex') },
};
const TYPE = 'https://slsa.dev/provenance/v1';
const policy = compilePolicy(
  {
    version: 1,
    rules: [
      { name: 'releases', match: ['releases/**'], require: [{ type: TYPE, signers: [{ registry: true }] }] },
    ],
  },
  'sha256:window',
);

async function signedBundle() {
  const statement = createStatement([{ name: 'app.tar.gz', digests: artifact.digests }], TYPE, {});
  return parseAttestationFile(JSON.stringify(await signStatement(statement, key.sign)), 'app.sigstore.json')
    .attestations;
}

describe('a keyed signature judged at the edges of its key window', () => {
  it.each(cases)('$name, observed at $t: $expected', async ({ window, offsetMs, expected }) => {
    const trusted = key.trusted({ origin: 'registry', ...window });
    const decision = evaluate({
      artifact,
      attestations: await signedBundle(),
      policy,
      keys: staticKeyLookup([trusted]),
      observedAt: at(offsetMs),
      strict: true,
    });
    if (expected === 'valid') {
      expect(decision.reasons).toEqual([]);
      expect(decision.accepted).toBe(true);
    } else {
      expect(decision.accepted).toBe(false);
      expect(decision.reasons.map((reason) => reason.code)).toContain(expected);
    }
  });

  it.each(cases)('re-checked before promotion: $name at $t is $expected', async (c) => {
    // Accepted while the key had no window at all; then the registry's record of it changed.
    const decision = evaluate({
      artifact,
      attestations: await signedBundle(),
      policy,
      keys: staticKeyLookup([key.trusted({ origin: 'registry' })]),
      observedAt: at(c.offsetMs),
      strict: true,
    });
    expect(decision.accepted).toBe(true);
    const now = staticKeyLookup([key.trusted({ origin: 'registry', ...c.window })]);
    expect(keySignaturesStillValid(decision, now)).toBe(c.expected === 'valid');
  });
});
