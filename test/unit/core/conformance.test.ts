import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  evaluate,
  keyIdOf,
  parseAttestationFile,
  publicKeyFromPem,
  staticKeyLookup,
  trustRootFromJson,
} from '#core/index.ts';
import {
  CONFORMANCE,
  CONFORMANCE_IDENTITY,
  CONFORMANCE_ISSUER,
  SHARED_FIXTURES,
} from '../../helpers/fixtures.ts';

const OBSERVED_AT = new Date('2030-01-01T00:00:00Z');

/**
 * One sigstore-conformance case through `evaluate`, as `vouch verify` runs it: the case's artifact (else
 * the suite's `a.txt`), its trusted root (else public-good), and its key (else the suite's identity).
 */
function decideCase(name: string) {
  const dir = `${CONFORMANCE}${name}/`;
  const read = (file: string) => readFileSync(`${dir}${file}`);
  const artifact = existsSync(`${dir}artifact`) ? read('artifact') : readFileSync(`${CONFORMANCE}a.txt`);
  const root = existsSync(`${dir}trusted_root.json`)
    ? read('trusted_root.json')
    : readFileSync(`${SHARED_FIXTURES}trusted_root.public-good.json`);
  const keyPem = existsSync(`${dir}key.pub`) ? read('key.pub').toString() : undefined;
  const key = keyPem ? publicKeyFromPem(keyPem) : undefined;
  const parsed = parseAttestationFile(read('bundle.sigstore.json'), 'bundle.sigstore.json');
  const signer = keyPem
    ? { publicKey: keyPem }
    : { issuer: CONFORMANCE_ISSUER, identity: CONFORMANCE_IDENTITY };
  return evaluate({
    artifact: {
      path: 'a.txt',
      digests: {
        sha256: createHash('sha256').update(artifact).digest('hex'),
        sha512: createHash('sha512').update(artifact).digest('hex'),
      },
    },
    attestations: parsed.attestations,
    inputErrors: parsed.errors,
    policy: compilePolicy(
      { version: 1, rules: [{ name: 'any', match: ['**'], require: [{ type: '*', signers: [signer] }] }] },
      'sha256:test',
    ),
    // As `vouch verify --key`: a single key is used whatever the bundle's hint says.
    keys: staticKeyLookup(key ? [{ keyId: keyIdOf(key), publicKey: key }] : []),
    trustRoot: trustRootFromJson(JSON.parse(root.toString())),
    observedAt: OBSERVED_AT,
    strict: true,
  });
}

const timeSourceOf = (decision: ReturnType<typeof decideCase>) =>
  decision.attestations[0]?.signatures[0]?.timeSource;

describe('sigstore-conformance bundles', () => {
  describe('message signatures with a hashedrekord log entry', () => {
    it.each([
      ['happy-path-v0.3', 'keyless'],
      ['managed-key-happy-path', 'keyed'],
    ])('%s (%s) is accepted at the log time, from the streamed digest', (name) => {
      const decision = decideCase(name);
      expect(decision.reasons).toEqual([]);
      expect(decision.accepted).toBe(true);
      expect(timeSourceOf(decision)).toBe('transparency-log');
    });

    describe('when the log entry records another digest', () => {
      it('rejects with TLOG_INVALID', () => {
        const decision = decideCase('wrong-hashedrekord-entry_fail');
        expect(decision.accepted).toBe(false);
        expect(decision.reasons.map((r) => r.code)).toContain('TLOG_INVALID');
      });
    });
  });

  describe('Rekor v2 entries (an inclusion proof, no integrated time)', () => {
    it.each([
      ['rekor2-happy-path', 'a message signature'],
      ['rekor2-dsse-happy-path', 'a DSSE envelope, logged as a hashedrekord of its PAE'],
    ])('%s (%s) is accepted at the RFC 3161 time', (name) => {
      const decision = decideCase(name);
      expect(decision.reasons).toEqual([]);
      expect(decision.accepted).toBe(true);
      expect(timeSourceOf(decision)).toBe('timestamp-authority');
    });

    describe('without an RFC 3161 timestamp', () => {
      it('rejects a keyless signature with TIMESTAMP_INVALID: the entry carries no time', () => {
        const decision = decideCase('rekor2-no-timestamp_fail');
        expect(decision.accepted).toBe(false);
        expect(decision.reasons.map((r) => r.code)).toContain('TIMESTAMP_INVALID');
      });
    });
  });
});
