import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  createStatement,
  evaluate,
  loadPolicySyntax,
  namedPipelines,
  type PipelineScope,
  parseAttestationFile,
  parsePipelines,
  parsePolicy,
  pipelineOfKey,
  pipelineOwning,
  type SignerSpec,
  signStatement,
  staticKeyLookup,
  type TrustedKey,
  validatePipelines,
} from '#core/index.ts';
import { type TestKey, testKey } from '../../helpers/keys.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
const T0 = new Date('2026-06-01T00:00:00Z');
const bytes = Buffer.from('pipeline A build');
const sha256 = createHash('sha256').update(bytes).digest('hex');

const PIPELINES: PipelineScope[] = [
  { name: 'app', alias: 'alias/vouch-signing/app', prefixes: ['acme/app/'] },
  { name: 'tools', alias: 'alias/vouch-signing/tools', prefixes: ['acme/tools/', 'shared/tools/'] },
];

const appKey = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/app-1');
const appRotated = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/app-2');
const toolsKey = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/tools-1');
const vsaKey = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/vsa-1');

const registered = (key: TestKey, pipeline: string | undefined, extra: Partial<TrustedKey> = {}) =>
  key.trusted({
    origin: 'registry',
    validFrom: T0,
    ...(pipeline ? { pipeline, alias: `alias/vouch-signing/${pipeline}` } : {}),
    ...extra,
  });
const KEYS = [
  registered(appKey, 'app'),
  registered(appRotated, 'app'),
  registered(toolsKey, 'tools'),
  registered(vsaKey, undefined, { purpose: 'vsa', alias: 'alias/vouch-vsa/current' }),
];

async function attest(key: TestKey, digest = sha256) {
  const statement = createStatement([{ name: 'app.tar.gz', digests: { sha256: digest } }], PROVENANCE_V1, {});
  return JSON.stringify(await signStatement(statement, key.sign));
}

function policy(signers: SignerSpec[], threshold?: number) {
  return compilePolicy(
    {
      version: 1,
      rules: [
        {
          name: 'all',
          match: ['**'],
          require: [{ type: PROVENANCE_V1, signers, ...(threshold ? { threshold } : {}) }],
        },
      ],
    },
    'sha256:test',
  );
}

function decide(
  files: { content: string; beside?: boolean }[],
  options: {
    path?: string;
    signers?: SignerSpec[];
    threshold?: number;
    pipelines?: PipelineScope[] | null;
  } = {},
) {
  const attestations = files.flatMap((file, i) =>
    parseAttestationFile(file.content, `att${i}.sigstore.json`).attestations.map((a) => {
      a.beside = file.beside ?? false;
      return a;
    }),
  );
  return evaluate({
    artifact: { path: options.path ?? 'acme/app/releases/app.tar.gz', digests: { sha256 } },
    attestations,
    policy: policy(options.signers ?? [{ registry: true }], options.threshold),
    keys: staticKeyLookup(KEYS),
    ...(options.pipelines === null ? {} : { pipelines: options.pipelines ?? PIPELINES }),
    observedAt: new Date(T0.getTime() + 3_600_000),
  });
}

describe('#validatePipelines', () => {
  const valid = (prefixes: string[], name = 'app') => [{ name, alias: `alias/x/${name}`, prefixes }];

  it('accepts plain prefixes of distinct pipelines', () => {
    expect(validatePipelines(PIPELINES)).toHaveLength(2);
  });

  describe('when two prefixes nest', () => {
    it('refuses them across pipelines: one object key would have two owners', () => {
      expect(() =>
        validatePipelines([...valid(['acme/'], 'outer'), ...valid(['acme/app/'], 'inner')]),
      ).toThrow(/"acme\/" \(outer\) and "acme\/app\/" \(inner\) nest/);
    });

    it('refuses them within one pipeline too', () => {
      expect(() => validatePipelines(valid(['acme/', 'acme/app/']))).toThrow(/nest/);
    });
  });

  it.each([
    ['acme/app', /must end with/],
    ['acme/*/', /no wildcard/],
    ['acme//app/', /no empty/],
    ['acme/../app/', /"\.\."/],
    ['/acme/', /no empty/],
    ['acme/ä/', /letters, digits/],
  ])('refuses the prefix %j', (prefix, message) => {
    expect(() => validatePipelines(valid([prefix]))).toThrow(message);
  });

  it('allows "" (every key) only for a stack’s one pipeline', () => {
    expect(validatePipelines(valid(['']))).toHaveLength(1);
    expect(() => validatePipelines([...valid([''], 'default'), ...valid(['b/'], 'other')])).toThrow(
      /only for a stack’s one pipeline|only for a stack's one pipeline/,
    );
  });

  it('refuses a name that could not be an alias suffix, tag or construct ID, and duplicates', () => {
    expect(() => validatePipelines(valid(['a/'], 'App'))).toThrow(/not a pipeline name/);
    expect(() => validatePipelines([...valid(['a/']), ...valid(['b/'])])).toThrow(/listed twice/);
  });
});

describe('#pipelineOwning', () => {
  it('finds the one pipeline whose prefix starts the key', () => {
    expect(pipelineOwning(PIPELINES, 'shared/tools/x.bin')?.name).toBe('tools');
    expect(pipelineOwning(PIPELINES, 'acme/app/x.bin')?.name).toBe('app');
  });

  it('finds none for a key outside every scope, or a look-alike prefix', () => {
    expect(pipelineOwning(PIPELINES, 'acme/application/x.bin')).toBeUndefined();
    expect(pipelineOwning(PIPELINES, 'releases/x.bin')).toBeUndefined();
  });
});

describe('#pipelineOfKey', () => {
  it('reads the registered pipeline, else the pipeline whose alias the key rotated behind (a key from before pipelines)', () => {
    expect(pipelineOfKey(PIPELINES, { pipeline: 'tools', alias: 'alias/vouch-signing/app' })).toBe('tools');
    expect(pipelineOfKey(PIPELINES, { alias: 'alias/vouch-signing/app' })).toBe('app');
    expect(pipelineOfKey(PIPELINES, { alias: 'alias/elsewhere' })).toBeUndefined();
  });
});

describe('#parsePipelines', () => {
  it('reads the VOUCH_PIPELINES form, keeping fields other readers need', () => {
    const [pipeline] = parsePipelines(JSON.stringify([{ ...PIPELINES[0], signers: ['arn:x'] }]));
    expect(pipeline).toMatchObject({ name: 'app', signers: ['arn:x'] });
  });

  it('names what is wrong', () => {
    expect(() => parsePipelines('{')).toThrow(/VOUCH_PIPELINES: not JSON/);
    expect(() => parsePipelines('[{"name":"a"}]')).toThrow(/VOUCH_PIPELINES\[0\]: expected/);
  });
});

describe('scoped registry trust (evaluate with pipelines)', () => {
  describe('{ registry: true }', () => {
    it('accepts a key of the pipeline that owns the object key', async () => {
      const decision = decide([{ content: await attest(appKey) }]);
      expect(decision.accepted).toBe(true);
      expect(decision.attestations[0]?.signatures[0]?.signer).toMatchObject({ pipeline: 'app' });
    });

    describe("when another pipeline's key vouches for the artifact", () => {
      it('ignores it (a note naming both pipelines): the artifact waits for its own pipeline', async () => {
        const decision = decide([{ content: await attest(toolsKey), beside: true }]);
        expect(decision).toMatchObject({ accepted: false, curable: true });
        expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
        expect(decision.notes).toHaveLength(1);
        expect(decision.notes[0]).toMatchObject({ code: 'SIGNER_NOT_ALLOWED' });
        expect(decision.notes[0]?.message).toMatch(
          /\(pipeline tools\), but its pipeline does not own this object key \(pipeline app does\)/,
        );
      });

      it('is junk, not a veto: its statement about other bytes beside the artifact rejects nothing', async () => {
        const other = await attest(toolsKey, 'e'.repeat(64));
        const decision = decide([{ content: other, beside: true }]);
        expect(decision).toMatchObject({ accepted: false, curable: true });
        expect(decision.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
        // The same statement by the owning pipeline is its word against the artifact: rejected at once.
        const own = decide([{ content: await attest(appKey, 'e'.repeat(64)), beside: true }]);
        expect(own).toMatchObject({ accepted: false, curable: false });
        expect(own.reasons[0]?.code).toBe('SUBJECT_MISMATCH');
      });

      it('does not stop the owning pipeline’s attestation from counting', async () => {
        const decision = decide([{ content: await attest(toolsKey) }, { content: await attest(appKey) }]);
        expect(decision.accepted).toBe(true);
        expect(decision.keyIds).toEqual([appKey.keyId]);
      });
    });

    it('lets no registry key vouch for an object key outside every pipeline’s scope', async () => {
      const decision = decide([{ content: await attest(appKey) }], { path: 'releases/app.tar.gz' });
      expect(decision.accepted).toBe(false);
      expect(decision.notes[0]?.message).toMatch(/its pipeline's scope does not hold this object key/);
    });

    it('counts two keys of one pipeline (before and after a rotation) as one signer', async () => {
      const files = [{ content: await attest(appKey) }, { content: await attest(appRotated) }];
      const decision = decide(files, { threshold: 2 });
      expect(decision.accepted).toBe(false);
      expect(decision.reasons[0]?.code).toBe('THRESHOLD_NOT_MET');
    });

    it('without pipelines (vouch verify, a stack from before them) trusts every registry key, as before', async () => {
      expect(decide([{ content: await attest(toolsKey) }], { pipelines: null }).accepted).toBe(true);
    });
  });

  describe('{ registry: { pipeline } }', () => {
    it("accepts the named pipeline's key outside its own scope (cross-pipeline promotion on purpose)", async () => {
      const decision = decide([{ content: await attest(toolsKey) }], {
        signers: [{ registry: { pipeline: 'tools' } }],
      });
      expect(decision.accepted).toBe(true);
    });

    it("ignores every other pipeline's key, the owner's included", async () => {
      const decision = decide([{ content: await attest(appKey) }], {
        signers: [{ registry: { pipeline: 'tools' } }],
      });
      expect(decision.accepted).toBe(false);
      expect(decision.notes[0]?.message).toMatch(/\(pipeline app\), but its pipeline is not tools/);
    });

    it('with { registry: true }, meets a threshold of two only with two pipelines', async () => {
      const signers: SignerSpec[] = [{ registry: true }, { registry: { pipeline: 'tools' } }];
      const both = [{ content: await attest(appKey) }, { content: await attest(toolsKey) }];
      expect(decide(both, { signers, threshold: 2 }).accepted).toBe(true);
      const one = [{ content: await attest(appKey) }, { content: await attest(appRotated) }];
      expect(decide(one, { signers, threshold: 2 }).accepted).toBe(false);
    });
  });

  describe('a key that signs verification summaries', () => {
    it.each([
      ['{ registry: true }, with pipelines', { signers: [{ registry: true }] as SignerSpec[] }],
      [
        '{ registry: true }, without pipelines',
        { signers: [{ registry: true }] as SignerSpec[], pipelines: null },
      ],
    ])('never counts as an artifact signer: %s', async (_, options) => {
      const decision = decide([{ content: await attest(vsaKey) }], options);
      expect(decision.accepted).toBe(false);
      expect(decision.notes[0]?.message).toMatch(/signs verification summaries, never artifacts/);
    });
  });
});

describe('the policy schema', () => {
  const load = (registry: unknown) =>
    parsePolicy(
      JSON.stringify({
        version: 1,
        rules: [{ name: 'r', match: ['**'], require: [{ type: PROVENANCE_V1, signers: [{ registry }] }] }],
      }),
    );

  it('accepts { registry: { pipeline } } and lists the pipelines a policy names', () => {
    expect(namedPipelines(load({ pipeline: 'tools' }))).toEqual(['tools']);
    expect(namedPipelines(load(true))).toEqual([]);
  });

  it.each([[{ pipeline: 'Tools' }], [{ pipeline: 'tools', extra: 1 }], [{}], [false]])(
    'refuses registry: %j',
    (registry) => {
      expect(() => load(registry)).toThrow(/is not a signer/);
    },
  );
});
