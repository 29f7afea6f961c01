import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createStatement,
  DETAIL_TYPES,
  EMPTY_TRUST_ROOT,
  loadConditionEngine,
  loadPolicySyntax,
  type Policy,
  parsePolicy,
  parseS3Notification,
  signStatement,
  type VouchEvent,
  vsaKey,
} from '#core/index.ts';
import { createPipeline, type PipelineDeps } from '../../../lambdas/verify/pipeline.ts';
import { MemoryIndex, MemoryRecords, MemoryRegistry } from '../../helpers/fakes.ts';
import { testKey } from '../../helpers/keys.ts';
import { MemoryS3 } from '../../helpers/memory-s3.ts';

// Conditions, exceptions, policy versions and decision events on the pipeline's in-memory ports; the
// same paths through the real handler on the local servers are in test/integration/policy.test.ts.

await Promise.all([loadConditionEngine(), loadPolicySyntax()]);
const PROVENANCE = 'https://slsa.dev/provenance/v1';
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const policy = (extra: string, version?: number): Policy => ({
  ...parsePolicy(`
version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require:
      - type: ${PROVENANCE}
        signers: [{ registry: true }]
${extra}`),
  ...(version === undefined ? {} : { version }),
});
const BUILT_BY_CI = policy('        conditions: ["predicate.builder == \'ci\'"]', 1);

function harness(current: { policy: Policy }, events: VouchEvent[], failing = { publish: false }) {
  const s3 = new MemoryS3({ versioned: true });
  const records = new MemoryRecords();
  const registry = new MemoryRegistry();
  const signer = testKey('p256', `arn:aws:kms:us-east-1:000000000000:key/${randomUUID()}`);
  registry.put({
    keyId: signer.keyId,
    alias: 'alias/vouch-signing',
    keySpec: 'ECC_NIST_P256',
    publicKeyPem: signer.publicKeyPem,
    status: 'active',
    period: '2020-01-01T00:00:00.000Z',
    validFrom: '2020-01-01T00:00:00.000Z',
    createdAt: '2020-01-01T00:00:00.000Z',
  });
  const vsa = testKey();
  const failures: unknown[] = [];
  const deps: PipelineDeps = {
    s3,
    records,
    index: new MemoryIndex(),
    keys: registry.cache(),
    policy: { current: () => current.policy },
    trustRoot: EMPTY_TRUST_ROOT,
    vsaSigner: vsa.sign,
    stagingBucket: 'staging',
    deploymentBucket: 'deployment',
    pendingDeadlineSeconds: 3600,
    events: {
      publish: async (batch) => {
        if (failing.publish) throw new Error('EventBridge down');
        events.push(...batch);
      },
      failed: (error) => failures.push(error),
    },
  };
  const pipeline = createPipeline(deps);
  const upload = async (key: string, body: string) => {
    for (const event of parseS3Notification(s3.upload('staging', key, body).notification))
      await pipeline.handle(event);
  };
  const provenance = async (bytes: string, predicate: Record<string, unknown>) =>
    JSON.stringify(
      await signStatement(
        createStatement([{ name: 'app.tgz', digests: { sha256: sha256(bytes) } }], PROVENANCE, predicate),
        signer.sign,
      ),
    );
  return {
    s3,
    records,
    pipeline,
    upload,
    provenance,
    failures,
    status: async (key: string) => (await records.byKey(key))[0],
  };
}

describe('decision events', () => {
  it('publishes each status an artifact enters, with the documented fields', async () => {
    const events: VouchEvent[] = [];
    const h = harness({ policy: BUILT_BY_CI }, events);
    await h.upload('releases/app.tgz', 'app');
    await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app', { builder: 'ci' }));
    const decisions = events.filter((e) => e.detailType === DETAIL_TYPES.decision).map((e) => e.detail);
    expect(decisions.map((d) => (d as { status: string }).status)).toEqual([
      'pending',
      'verified',
      'promoted',
    ]);
    expect(decisions[2]).toMatchObject({
      schemaVersion: 1,
      bucket: 'staging',
      objectKey: 'releases/app.tgz',
      digest: `sha256:${sha256('app')}`,
      status: 'promoted',
      policyVersion: 1,
      policyDigest: BUILT_BY_CI.digest,
      flagged: false,
    });
  });

  it('publishes a rejection with its reasons, the failing condition quoted', async () => {
    const events: VouchEvent[] = [];
    const h = harness({ policy: BUILT_BY_CI }, events);
    await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app', { builder: 'laptop' }));
    await h.upload('releases/app.tgz', 'app');
    const [rejected] = events.map(
      (e) => e.detail as unknown as { status: string; reasons: { message: string }[] },
    );
    expect(rejected?.status).toBe('rejected');
    expect(rejected?.reasons[0]?.message).toContain(`condition "predicate.builder == 'ci'" is false`);
  });

  it('never fails or undoes a decision when publishing fails: it is reported', async () => {
    const events: VouchEvent[] = [];
    const h = harness({ policy: BUILT_BY_CI }, events, { publish: true });
    await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app', { builder: 'ci' }));
    await h.upload('releases/app.tgz', 'app');
    expect((await h.status('releases/app.tgz'))?.status).toBe('promoted');
    expect(h.failures.length).toBeGreaterThan(0);
  });
});

describe('exceptions through the pipeline', () => {
  const excepted = policy(
    `        conditions: ["predicate.builder == 'ci'"]
exceptions:
  - { match: ["releases/hotfix/**"], rules: [releases], reason: "INC-7 hand-built hotfix", approvedBy: sec@acme.example, expiresAt: "2099-01-01T00:00:00Z" }
  - { match: ["releases/other/**"], rules: [releases], reason: soon, approvedBy: sec@acme.example, expiresAt: "${new Date(Date.now() + 3 * 86_400_000).toISOString()}" }`,
    2,
  );

  it('promotes under an exception, records it, puts it in the VSA, and announces its use', async () => {
    const events: VouchEvent[] = [];
    const h = harness({ policy: excepted }, events);
    await h.upload('releases/hotfix/app.tgz.sigstore.json', await h.provenance('app', { builder: 'laptop' }));
    await h.upload('releases/hotfix/app.tgz', 'app');
    const record = await h.status('releases/hotfix/app.tgz');
    expect(record?.status).toBe('promoted');
    expect(record?.exceptions?.[0]).toMatchObject({ rule: 'releases', approvedBy: 'sec@acme.example' });
    const vsa = JSON.parse(h.s3.latest('deployment', vsaKey('releases/hotfix/app.tgz'))?.toString() ?? '{}');
    // The summary file is the batch's DSSE envelope; this artifact's entry carries what its verdict used.
    const predicate = JSON.parse(Buffer.from(vsa.payload, 'base64').toString()).predicate;
    const entry = predicate.vouch.artifacts.find(
      (a: { name: string }) => a.name === 'releases/hotfix/app.tgz',
    );
    expect(entry.exceptions[0].reason).toBe('INC-7 hand-built hotfix');
    expect(entry.policyVersion).toBe(2);
    expect(events.some((e) => e.detailType === DETAIL_TYPES.exceptionUsed)).toBe(true);
  });

  it('lets the sweep report exceptions about to expire, announced once a day', async () => {
    const events: VouchEvent[] = [];
    const h = harness({ policy: excepted }, events);
    expect((await h.pipeline.expiringSoon()).map((e) => e.reason)).toEqual(['soon']);
    await h.pipeline.expiringSoon();
    expect(events.filter((e) => e.detailType === DETAIL_TYPES.exceptionExpiring)).toHaveLength(1);
  });
});

describe('a policy change', () => {
  it('re-evaluates pending artifacts at the next sweep, recording the version', async () => {
    const current = { policy: policy('        threshold: 2', 1) };
    const h = harness(current, []);
    await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app', {}));
    await h.upload('releases/app.tgz', 'app');
    expect((await h.status('releases/app.tgz'))?.status).toBe('pending');
    expect(await h.pipeline.sweepPending()).toEqual([]);
    current.policy = policy('', 2);
    await h.pipeline.sweepPending();
    const record = await h.status('releases/app.tgz');
    expect(record?.status).toBe('promoted');
    expect(record?.policyVersion).toBe(2);
  });

  it('records that a still-pending artifact was evaluated under the new version, once', async () => {
    const current = { policy: policy('        threshold: 2', 1) };
    const h = harness(current, []);
    await h.upload('releases/app.tgz', 'app');
    current.policy = policy('        threshold: 3', 2);
    await h.pipeline.sweepPending();
    await h.pipeline.sweepPending();
    const record = await h.status('releases/app.tgz');
    expect(record?.status).toBe('pending');
    expect(record?.policyVersion).toBe(2);
    expect(
      record?.history.filter((entry) => entry.note?.startsWith('re-evaluated under policy version 2')),
    ).toHaveLength(1);
  });
});
