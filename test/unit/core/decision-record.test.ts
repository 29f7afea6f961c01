import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  type Decision,
  evaluate,
  keySignaturesStillValid,
  type PolicySpec,
  parseAttestationFile,
  type Reason,
  signStatement,
  staticKeyLookup,
} from '#core/index.ts';
import { decide } from '../../helpers/decide.ts';
import {
  codes,
  decideWith,
  PROVENANCE,
  policyWith,
  SHA256,
  SIGNER,
  signed,
  T0,
} from '../../helpers/policy-cases.ts';
import { keyedBundle, keylessBundle } from '../../helpers/sigstore/index.ts';

const REVIEW = 'https://example.com/review/v1';
const keys = staticKeyLookup([SIGNER.trusted({ origin: 'registry', validFrom: new Date('2026-01-01') })]);
const requireSigned = (type: string) => ({ type, signers: [{ keyId: SIGNER.keyId }] });
const at = (iso: string) => new Date(iso);

/** Evaluates parsed files against a policy, as the verifier does unless `strict` (the CLI). */
function evaluateFiles(
  files: readonly string[],
  policy: ReturnType<typeof compilePolicy>,
  options: { path?: string; strict?: boolean; now?: Date; inputErrors?: readonly Reason[] } = {},
): Decision {
  const parsed = files.map((file, i) => parseAttestationFile(file, `att${i}.intoto.jsonl`));
  const path = 'path' in options ? options.path : 'releases/app.tar.gz';
  return evaluate({
    artifact: { ...(path === undefined ? {} : { path }), digests: { sha256: SHA256 } },
    attestations: parsed.flatMap((p) => p.attestations),
    inputErrors: [...parsed.flatMap((p) => p.errors), ...(options.inputErrors ?? [])],
    policy,
    keys,
    observedAt: T0,
    now: options.now ?? T0,
    strict: options.strict ?? false,
  });
}

describe('#evaluate when no rule matches the object key', () => {
  it('rejects, in enforce mode and for good (not curable), naming the key and keeping what was gathered', async () => {
    const policy = policyWith({}, { mode: 'audit' });
    const decision = evaluateFiles([await signed(PROVENANCE, {})], policy, { path: 'docs/readme.md' });
    expect(decision).toMatchObject({
      accepted: false,
      verdict: 'fail',
      mode: 'enforce',
      curable: false,
      rules: [],
      keyIds: [],
      identities: [],
      reasons: [{ code: 'NO_MATCHING_RULE', message: expect.stringContaining('"docs/readme.md"') }],
    });
    expect(decision.attestations).toHaveLength(1);
  });

  it('accepts under `noMatch: accept`, counting nothing', async () => {
    const policy = policyWith({}, { noMatch: 'accept' });
    const decision = evaluateFiles([await signed(PROVENANCE, {})], policy, { path: 'docs/readme.md' });
    expect(decision).toMatchObject({
      accepted: true,
      verdict: 'pass',
      mode: 'enforce',
      curable: false,
      rules: [],
      reasons: [],
      keyIds: [],
    });
    expect(decision.attestations).toHaveLength(1);
  });

  it('matches rules against the empty key when there is none (`vouch verify` without --path)', async () => {
    // `S*` matches any key starting with S, and not the empty one.
    const policy = policyWith({}, {}, { match: ['S*'] });
    const decision = evaluateFiles([await signed(PROVENANCE, {})], policy, { path: undefined });
    expect(codes(decision.reasons)).toEqual(['NO_MATCHING_RULE']);
    expect(decision.artifact).toEqual({ digest: `sha256:${SHA256}`, digests: { sha256: SHA256 } });
  });
});

describe('#evaluate of an object key it refuses', () => {
  it('rejects in enforce mode whatever the policy says, for good, counting nothing', async () => {
    const decision = evaluateFiles([await signed(PROVENANCE, {})], policyWith({}, { mode: 'audit' }), {
      path: 'releases/../app.tar.gz',
    });
    expect(decision).toMatchObject({
      accepted: false,
      mode: 'enforce',
      curable: false,
      rules: [],
      keyIds: [],
      identities: [],
    });
  });
});

describe('the decision record', () => {
  it("names the object key, and the signed policy bundle's version when there is one", async () => {
    const file = await signed(PROVENANCE, {});
    const decision = decideWith([file], policyWith({}));
    expect(decision.artifact).toEqual({
      path: 'releases/app.tar.gz',
      digest: `sha256:${SHA256}`,
      digests: { sha256: SHA256 },
    });
    expect(decision).not.toHaveProperty('policyVersion');
    expect(decideWith([file], { ...policyWith({}), version: 7 }).policyVersion).toBe(7);
  });

  it('of a pass is not curable and carries no audit reasons', async () => {
    const decision = decideWith([await signed(PROVENANCE, {})], policyWith({}));
    expect(decision).toMatchObject({ verdict: 'pass', curable: false });
    expect(decision).not.toHaveProperty('auditReasons');
  });

  it('of a strict failure (the CLI) is final even when the rest only waits for attestations', () => {
    const inputErrors: Reason[] = [{ code: 'PARSE_ERROR', message: 'bad' }];
    const strict = evaluateFiles([], policyWith({}), { strict: true, inputErrors });
    expect(codes(strict.reasons)).toEqual(['PARSE_ERROR', 'MISSING_ATTESTATION']);
    expect(strict.curable).toBe(false);
    // The same without strict: the parse error is a note, and the missing attestation may still come.
    const lenient = evaluateFiles([], policyWith({}), { inputErrors });
    expect(lenient.curable).toBe(true);
  });

  it('in strict mode, skips a JSON Lines entry about another artifact rather than failing on it', async () => {
    const about = async (digest: string) =>
      JSON.stringify(
        await signStatement(
          createStatement([{ name: 'app.tar.gz', digests: { sha256: digest } }], PROVENANCE, {}),
          SIGNER.sign,
        ),
      );
    const jsonl = `${await about(SHA256)}\n${await about('0'.repeat(64))}\n`;
    const decision = evaluateFiles([jsonl], policyWith({}), { strict: true });
    expect(decision.reasons).toEqual([]);
    expect(decision.verdict).toBe('pass');
  });

  it('lists the Sigstore roots that verified the signatures it rests on, and none for plain keyed ones', async () => {
    const statement = createStatement([{ name: 'app.tar.gz', digests: { sha256: SHA256 } }], PROVENANCE, {});
    const keyless = decide(keylessBundle({ content: { statement } }), { digests: { sha256: SHA256 } });
    expect(keyless.reasons).toEqual([]);
    expect(keyless.trustRoots).toEqual([expect.objectContaining({ instance: 'public-good' })]);
    const keyed = decideWith(
      [JSON.stringify(await keyedBundle({ key: SIGNER, content: { statement } }))],
      policyWith({}),
    );
    expect(keyed.verdict).toBe('pass');
    expect(keyed).not.toHaveProperty('trustRoots');
  });
});

describe('enforceFrom', () => {
  it('enforces the rule from the very millisecond it names', () => {
    const policy = policyWith({}, {}, { enforceFrom: '2026-06-01T12:30:00Z' });
    expect(evaluateFiles([], policy, { now: at('2026-06-01T12:30:00.000Z') }).mode).toBe('enforce');
    expect(evaluateFiles([], policy, { now: at('2026-06-01T12:29:59.999Z') }).mode).toBe('audit');
  });
});

describe('exceptions', () => {
  const exception = (fields: { rules: string[] } & Record<string, unknown>) => ({
    match: ['releases/**'],
    reason: 'INC-7',
    approvedBy: 'security@acme.example',
    expiresAt: '2026-06-02T00:00:00Z',
    ...fields,
  });
  /** Two rules over releases, both failing without attestations; `exceptions` as given. */
  const twoRules = (exceptions: PolicySpec['exceptions']) =>
    compilePolicy(
      {
        version: 1,
        rules: [
          { name: 'provenance', match: ['releases/**'], require: [requireSigned(PROVENANCE)] },
          { name: 'review', match: ['releases/**'], require: [requireSigned(REVIEW)] },
          { name: 'docs', match: ['docs/**'], require: [requireSigned(REVIEW)] },
        ],
        ...(exceptions ? { exceptions } : {}),
      },
      'sha256:test',
    );

  it('waive only the rules they name', () => {
    const decision = evaluateFiles([], twoRules([exception({ rules: ['provenance'] })]));
    expect(decision.accepted).toBe(false);
    expect(decision.exceptions?.map((e) => e.rule)).toEqual(['provenance']);
    expect(decision.reasons).toEqual([expect.objectContaining({ message: expect.stringContaining(REVIEW) })]);
  });

  it('naming `*` waive every rule that matches', () => {
    const decision = evaluateFiles([], twoRules([exception({ rules: ['*'] })]));
    expect(decision.accepted).toBe(true);
    expect(decision.exceptions?.map((e) => e.rule)).toEqual(['provenance', 'review']);
  });

  it('expire at the very millisecond of expiresAt, with a note', () => {
    const policy = twoRules([exception({ rules: ['*'], expiresAt: '2026-06-01T12:30:00Z' })]);
    const expired = evaluateFiles([], policy, { now: at('2026-06-01T12:30:00.000Z') });
    expect(expired.accepted).toBe(false);
    expect(codes(expired.notes)).toContain('EXCEPTION_EXPIRED');
    expect(evaluateFiles([], policy, { now: at('2026-06-01T12:29:59.999Z') }).accepted).toBe(true);
  });

  it('record the first exception in force for a rule when several name it', () => {
    const decision = evaluateFiles(
      [],
      twoRules([
        exception({ rules: ['*'], reason: 'INC-1' }),
        exception({ rules: ['provenance', 'review'], reason: 'INC-2' }),
      ]),
    );
    expect(decision.exceptions?.map((e) => e.reason)).toEqual(['INC-1', 'INC-1']);
  });

  it('say nothing when they name no rule that matches the key, expired or not', () => {
    const policy = twoRules([
      exception({ match: ['**'], rules: ['docs'], expiresAt: '2026-01-01T00:00:00Z' }),
    ]);
    expect(codes(evaluateFiles([], policy).notes)).not.toContain('EXCEPTION_EXPIRED');
  });
});

describe('#keySignaturesStillValid', () => {
  const revokedAfterT0 = (revokedAt: string) =>
    staticKeyLookup([
      SIGNER.trusted({ origin: 'registry', validFrom: new Date('2026-01-01'), revokedAt: at(revokedAt) }),
    ]);

  it('looks only at the signatures the decision counted', async () => {
    const decision = decideWith([await signed(PROVENANCE, {})], policyWith({}));
    expect(decision.keyIds).toEqual([SIGNER.keyId]);
    const withUncounted: Decision = {
      ...decision,
      attestations: [
        ...decision.attestations,
        {
          source: 'late.sigstore.json',
          kind: 'statement',
          verified: true,
          signatures: [
            { signer: { kind: 'key', keyId: SIGNER.keyId }, signingTimes: ['2026-06-01T13:00:00.000Z'] },
          ],
          reasons: [],
        },
      ],
    };
    // Revoked after the counted signature (at T0) and before the uncounted one.
    expect(keySignaturesStillValid(withUncounted, revokedAfterT0('2026-06-01T12:45:00Z'))).toBe(true);
    expect(keySignaturesStillValid(withUncounted, revokedAfterT0('2026-06-01T12:00:00Z'))).toBe(false);
  });

  it('is false when a key the decision rests on is no longer in the registry', async () => {
    const decision = decideWith([await signed(PROVENANCE, {})], policyWith({}));
    expect(keySignaturesStillValid(decision, keys)).toBe(true);
    expect(keySignaturesStillValid(decision, () => undefined)).toBe(false);
  });
});
