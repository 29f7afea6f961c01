import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createStatement,
  EMPTY_TRUST_ROOT,
  loadPolicySyntax,
  parsePolicy,
  parseS3Notification,
  signStatement,
  vsaKey,
} from '#core/index.ts';
import { createPipeline, type PipelineDeps } from '../../../lambdas/verify/pipeline.ts';
import { MemoryIndex, MemoryRecords, MemoryRegistry } from '../../helpers/fakes.ts';
import { testKey } from '../../helpers/keys.ts';
import { MemoryS3 } from '../../helpers/memory-s3.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

// The pipeline's paths on in-memory ports (no servers): each runs in milliseconds. The same paths run
// through the real handler on s3rver and dynalite in test/integration.

const STAGING = 'staging';
const DEPLOYMENT = 'deployment';
const PROVENANCE = 'https://slsa.dev/provenance/v1';
const POLICY = parsePolicy(`
version: 1
rules:
  - name: releases
    match: ["releases/**"]
    require: [{ type: ${PROVENANCE}, signers: [{ registry: true }] }]
`);

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function harness(options: { versioned?: boolean; overrides?: Partial<PipelineDeps> } = {}) {
  const clock = { offsetMs: 0 };
  const now = () => new Date(Date.now() + clock.offsetMs);
  const s3 = new MemoryS3({ versioned: options.versioned ?? true });
  const records = new MemoryRecords();
  const index = new MemoryIndex();
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
  const hooks = { duringPromotion: async () => {} };
  const deps: PipelineDeps = {
    s3,
    records,
    index,
    keys: registry.cache(),
    policy: POLICY,
    trustRoot: EMPTY_TRUST_ROOT,
    vsaSigner: async (message) => {
      await hooks.duringPromotion();
      return vsa.sign(message);
    },
    stagingBucket: STAGING,
    deploymentBucket: DEPLOYMENT,
    pendingDeadlineSeconds: 3600,
    now,
    ...options.overrides,
  };
  const pipeline = createPipeline(deps);
  const deliver = async (notification: string, owner?: string) => {
    for (const event of parseS3Notification(notification)) await pipeline.handle(event, owner);
  };
  return {
    s3,
    records,
    index,
    registry,
    signer,
    hooks,
    clock,
    pipeline,
    deliver,
    /** Uploads to staging; returns the notification S3 would send, not yet delivered. */
    put: (key: string, body: string) => s3.upload(STAGING, key, body).notification,
    upload: (key: string, body: string) => deliver(s3.upload(STAGING, key, body).notification),
    provenance: async (name: string, bytes: string, key = signer) =>
      JSON.stringify(
        await signStatement(
          createStatement([{ name, digests: { sha256: sha256(bytes) } }], PROVENANCE, {}),
          key.sign,
        ),
      ),
    status: async (key: string) => (await records.byKey(key)).map((record) => record.status),
    copies: () => s3.requests.filter((r) => r.op === 'copyVersion' || r.op === 'streamVerified'),
  };
}

describe('createPipeline', () => {
  describe('when the attestation arrives before the artifact', () => {
    it('promotes the exact version digested, by version ID and on its ETag', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      await h.upload('releases/app.tgz', 'app');
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      const [copy] = h.copies();
      const staged = h.s3.versions(STAGING, 'releases/app.tgz')[0];
      expect(copy).toMatchObject({ op: 'copyVersion', versionId: staged?.versionId, ifMatch: staged?.eTag });
      expect(h.s3.latest(DEPLOYMENT, vsaKey('releases/app.tgz'))).toBeDefined();
    });
  });

  describe('on the happy path (attestation first, versioned staging)', () => {
    it('writes two objects and the record three times: created verified with its claim, key claimed, promoted', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      const writes: string[] = [];
      for (const method of [
        'create',
        'transition',
        'annotate',
        'claimPromotion',
        'releasePromotion',
        'claimDeployment',
        'markDue',
        'clearDue',
      ] as const) {
        const original = (h.records[method] as (...args: unknown[]) => Promise<unknown>).bind(h.records);
        (h.records as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
          writes.push(method);
          return original(...args);
        };
      }
      h.s3.requests.length = 0;
      await h.upload('releases/app.tgz', 'app');
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      expect(writes).toEqual(['create', 'claimDeployment', 'transition']);
      const s3Writes = h.s3.requests.filter((r) => !['open', 'head'].includes(r.op));
      expect(s3Writes.map((r) => `${r.op} ${r.to ?? r.key}`)).toEqual([
        `put ${vsaKey('releases/app.tgz')}`,
        `copyVersion ${DEPLOYMENT}/releases/app.tgz`,
      ]);
    });

    it('reads the attestation once when one invocation indexes it and assesses its artifact', async () => {
      const h = harness();
      const attestation = 'releases/app.tgz.sigstore.json';
      const reads = () => h.s3.requests.filter((r) => r.op === 'open' && r.key === attestation).length;
      const provenance = await h.provenance('app.tgz', 'app');
      await h.pipeline.invocation(async () => {
        await h.upload(attestation, provenance);
        await h.upload('releases/app.tgz', 'app');
      });
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      expect(reads()).toBe(1);
      // Not across invocations: the next one reads what it assesses.
      await h.pipeline.invocation(() => h.upload('releases/app.tgz', 'app'));
      expect(reads()).toBe(2);
    });

    it('reads it again for a version it has not read: each assessment gets the version the index names', async () => {
      const h = harness();
      const attestation = 'releases/app.tgz.sigstore.json';
      const stranger = testKey('p256', `arn:aws:kms:us-east-1:000000000000:key/${randomUUID()}`);
      await h.pipeline.invocation(async () => {
        await h.upload(attestation, await h.provenance('app.tgz', 'app', stranger));
        // Another version, indexed by a delivery in another invocation: not kept here.
        await h.pipeline.invocation(async () => h.upload(attestation, await h.provenance('app.tgz', 'app')));
        h.s3.requests.length = 0;
        await h.upload('releases/app.tgz', 'app');
      });
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      const [, genuine] = h.s3.versions(STAGING, attestation);
      expect(
        h.s3.requests.filter((r) => r.op === 'open' && r.key === attestation).map((r) => r.versionId),
      ).toEqual([genuine?.versionId]);
    });

    it('promotes the next upload of the same key at once: the finished promotion let the key go', async () => {
      const h = harness();
      for (const bytes of ['version 1', 'version 2']) {
        await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', bytes));
        await h.upload('releases/app.tgz', bytes);
      }
      expect(await h.status('releases/app.tgz')).toEqual(['promoted', 'promoted']);
      expect(h.s3.latest(DEPLOYMENT, 'releases/app.tgz')?.toString()).toBe('version 2');
    });
  });

  describe('when the artifact arrives first', () => {
    it('waits (pending), and promotes when its attestation arrives', async () => {
      const h = harness();
      await h.upload('releases/app.tgz', 'app');
      expect(await h.status('releases/app.tgz')).toEqual(['pending']);
      await h.upload('elsewhere/provenance.sigstore.json', await h.provenance('app.tgz', 'app'));
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
    });

    it('is rejected by the sweep once its deadline has passed, and no longer due', async () => {
      const h = harness();
      await h.upload('releases/app.tgz', 'app');
      const [record] = await h.records.byKey('releases/app.tgz');
      expect(h.records.dueEntries()).toEqual([
        { objectKey: 'releases/app.tgz', version: record?.version, due: record?.deadline },
      ]);
      await h.pipeline.sweepPending();
      expect(await h.status('releases/app.tgz')).toEqual(['pending']);
      h.clock.offsetMs = 2 * 3600 * 1000;
      await h.pipeline.sweepPending();
      expect(await h.status('releases/app.tgz')).toEqual(['rejected']);
      expect(h.records.dueEntries()).toEqual([]);
      expect((await h.records.byKey('releases/app.tgz'))[0]?.reasons.map((r) => r.code)).toEqual([
        'MISSING_ATTESTATION',
      ]);
    });
  });

  // README, "Who may decide": junk beside an artifact is a note and never vetoes it (#11.3); the artifact
  // waits for a genuine attestation until its deadline, and is rejected then, not a millisecond earlier
  // and never left pending after it.
  describe('when the only attestation beside the artifact is unusable (a key nobody trusts)', () => {
    it('waits, noting it, and is rejected by the sweep exactly at its deadline', async () => {
      let at: Date | undefined;
      const h = harness({ overrides: { now: () => at ?? new Date() } });
      const stranger = testKey('p256', `arn:aws:kms:us-east-1:000000000000:key/${randomUUID()}`);
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app', stranger));
      await h.upload('releases/app.tgz', 'app');
      const [pending] = await h.records.byKey('releases/app.tgz');
      expect(pending?.status).toBe('pending');
      expect(pending?.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
      expect(pending?.notes?.map((r) => r.code)).toContain('UNKNOWN_KEY');
      const deadline = new Date(pending?.deadline as string).getTime();
      expect(deadline - new Date(pending?.uploadedAt as string).getTime()).toBe(3600 * 1000);

      at = new Date(deadline - 1);
      await h.pipeline.sweepPending();
      expect(await h.status('releases/app.tgz')).toEqual(['pending']);
      at = new Date(deadline);
      await h.pipeline.sweepPending();
      const [rejected] = await h.records.byKey('releases/app.tgz');
      expect(rejected?.status).toBe('rejected');
      expect(rejected?.reasons.map((r) => r.code)).toContain('MISSING_ATTESTATION');
      expect(rejected?.notes?.map((r) => r.code)).toContain('UNKNOWN_KEY');
      expect(h.copies()).toEqual([]);
    });
  });

  describe('when an attestation is indexed while its artifact is being assessed', () => {
    it('still promotes it: the waiter/index handshake lets one side see the other', async () => {
      const h = harness();
      const attestation = h.put('elsewhere/p.sigstore.json', await h.provenance('app.tgz', 'app'));
      const index = h.index;
      const attestationsFor = index.attestationsFor.bind(index);
      let raced = false;
      // The artifact's first look at the index finds nothing; the attestation is ingested right after,
      // before the artifact has registered as a waiter.
      index.attestationsFor = async (digests, max) => {
        const found = await attestationsFor(digests, max);
        if (!raced) {
          raced = true;
          await h.deliver(attestation);
        }
        return found;
      };
      await h.upload('releases/app.tgz', 'app');
      expect(raced).toBe(true);
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
    });
  });

  describe('when junk names the artifact', () => {
    it('never rejects it: the genuine provenance arriving later still promotes it', async () => {
      const h = harness();
      const stranger = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/stranger');
      await h.upload('junk/a.sigstore.json', await h.provenance('app.tgz', 'app', stranger));
      await h.upload('releases/app.tgz', 'app');
      const [record] = await h.records.byKey('releases/app.tgz');
      expect(record?.status).toBe('pending');
      expect(record?.notes?.map((n) => n.code)).toEqual(['UNKNOWN_KEY']);
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
    });
  });

  describe('when the same event arrives twice', () => {
    it('promotes once, however the deliveries interleave', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      const event = h.put('releases/app.tgz', 'app');
      await Promise.all([h.deliver(event, 'message-1'), h.deliver(event, 'message-2')]);
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      expect(h.copies()).toHaveLength(1);
    });
  });

  describe('when a promotion fails after claiming', () => {
    it('lets the redelivery of the same message take the claim back, and promotes once', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      const event = h.put('releases/app.tgz', 'app');
      h.hooks.duringPromotion = async () => {
        h.hooks.duringPromotion = async () => {};
        throw new Error('KMS unavailable');
      };
      await expect(h.deliver(event, 'message-1')).rejects.toThrow(/KMS unavailable/);
      expect(await h.status('releases/app.tgz')).toEqual(['verified']);
      // Due for the sweep when its claim would have lapsed, should no redelivery come.
      expect(h.records.dueEntries()).toEqual([
        expect.objectContaining({ objectKey: 'releases/app.tgz', due: expect.any(String) }),
      ]);
      await h.deliver(event, 'message-1');
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      expect(h.copies()).toHaveLength(1);
    });
  });

  describe('when the promotion an attestation woke fails, and its claim is not given back', () => {
    it('finishes the promotion on the redelivery of that attestation', async () => {
      const h = harness();
      await h.upload('releases/app.tgz', 'app');
      const attestation = h.put('elsewhere/p.sigstore.json', await h.provenance('app.tgz', 'app'));
      h.records.releasePromotion = async () => false; // a process killed gives nothing back
      h.hooks.duringPromotion = async () => {
        h.hooks.duringPromotion = async () => {};
        throw new Error('killed while promoting');
      };
      await expect(h.deliver(attestation, 'message-7')).rejects.toThrow(/killed while promoting/);
      expect(await h.status('releases/app.tgz')).toEqual(['verified']);
      await h.deliver(attestation, 'message-7');
      expect(await h.status('releases/app.tgz')).toEqual(['promoted']);
      expect(h.copies()).toHaveLength(1);
    });
  });

  describe('when the staging object is overwritten during promotion (versioned bucket)', () => {
    it('promotes the version it verified, never the newer one, and decides the newer one on its own', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      h.hooks.duringPromotion = async () => {
        h.hooks.duringPromotion = async () => {};
        await h.upload('releases/app.tgz', 'app with a backdoor');
      };
      await h.upload('releases/app.tgz', 'app');
      const [verified, overwrite] = h.s3.versions(STAGING, 'releases/app.tgz');
      expect(h.s3.latest(DEPLOYMENT, 'releases/app.tgz')?.toString()).toBe('app');
      expect(h.copies()).toEqual([
        expect.objectContaining({
          op: 'copyVersion',
          versionId: verified?.versionId,
          ifMatch: verified?.eTag,
        }),
      ]);
      const byVersion = new Map((await h.records.byKey('releases/app.tgz')).map((r) => [r.version, r]));
      expect(byVersion.get(verified?.versionId as string)?.status).toBe('promoted');
      // The provenance beside it names other bytes: an allowed signer's word against the overwrite.
      expect(byVersion.get(overwrite?.versionId as string)?.status).toBe('rejected');
      expect(byVersion.get(overwrite?.versionId as string)?.reasons[0]?.code).toBe('SUBJECT_MISMATCH');
    });

    it('names the version digested in every request about the artifact, from the first read to the copy', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      await h.upload('releases/app.tgz', 'app');
      const [staged] = h.s3.versions(STAGING, 'releases/app.tgz');
      const aboutArtifact = h.s3.requests.filter((r) => r.bucket === STAGING && r.key === 'releases/app.tgz');
      expect(aboutArtifact.map((r) => r.op)).toEqual(['open', 'copyVersion']);
      for (const request of aboutArtifact) expect(request.versionId, request.op).toBe(staged?.versionId);
      // The attestation is read by the version that was indexed, too.
      const [attestation] = h.s3.versions(STAGING, 'releases/app.tgz.sigstore.json');
      const reads = h.s3.requests.filter((r) => r.key === 'releases/app.tgz.sigstore.json');
      expect(reads.length).toBeGreaterThan(0);
      for (const read of reads) expect(read.versionId).toBe(attestation?.versionId);
    });
  });

  describe('when the staging object is overwritten during promotion (unversioned bucket)', () => {
    it('rejects it and leaves nothing in the deployment bucket', async () => {
      const h = harness({ versioned: false });
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      h.hooks.duringPromotion = async () => {
        h.hooks.duringPromotion = async () => {};
        h.s3.upload(STAGING, 'releases/app.tgz', 'app with a backdoor');
      };
      await h.upload('releases/app.tgz', 'app');
      const [record] = await h.records.byKey('releases/app.tgz');
      expect(record?.status).toBe('rejected');
      expect(record?.reasons.map((r) => r.code)).toEqual(['SUBJECT_MISMATCH']);
      expect(h.s3.keys(DEPLOYMENT)).toEqual([]);
    });
  });

  describe('when a revocation lands during promotion', () => {
    it('pulls what was copied once the re-check has quarantined the record', async () => {
      const h = harness();
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      h.hooks.duringPromotion = async () => {
        h.hooks.duringPromotion = async () => {};
        h.registry.update(h.signer.keyId, { status: 'revoked', revokedAt: '2020-06-01T00:00:00.000Z' });
        await h.pipeline.recheckKey(h.signer.keyId);
      };
      await h.upload('releases/app.tgz', 'app');
      expect(await h.status('releases/app.tgz')).toEqual(['quarantined']);
      expect((await h.records.byKey('releases/app.tgz'))[0]?.reasons.map((r) => r.code)).toEqual([
        'KEY_REVOKED',
        'MISSING_ATTESTATION',
      ]);
      expect(h.s3.latest(DEPLOYMENT, 'releases/app.tgz')).toBeUndefined();
      expect(h.s3.latest(DEPLOYMENT, vsaKey('releases/app.tgz'))).toBeUndefined();
    });

    it('refuses to promote on a key revoked after the cache read it (read again, strongly consistent)', async () => {
      const h = harness();
      await h.upload('releases/warm.tgz.sigstore.json', await h.provenance('warm.tgz', 'warm'));
      await h.upload('releases/warm.tgz', 'warm');
      h.registry.update(h.signer.keyId, { status: 'revoked', revokedAt: '2020-06-01T00:00:00.000Z' });
      await h.upload('releases/app.tgz.sigstore.json', await h.provenance('app.tgz', 'app'));
      await h.upload('releases/app.tgz', 'app');
      const [record] = await h.records.byKey('releases/app.tgz');
      expect(record?.status).toBe('rejected');
      expect(record?.reasons[0]?.code).toBe('KEY_REVOKED');
      expect(h.registry.reads.some((read) => read.consistent && read.keyIds.includes(h.signer.keyId))).toBe(
        true,
      );
    });
  });

  describe('when an older upload is verified after a newer one was promoted', () => {
    it('rejects it as SUPERSEDED and leaves the newer one in place', async () => {
      const h = harness();
      await h.upload('releases/app.tgz', 'version 1');
      await h.upload('elsewhere/v2.sigstore.json', await h.provenance('app.tgz', 'version 2'));
      await h.upload('releases/app.tgz', 'version 2');
      await h.upload('elsewhere/v1.sigstore.json', await h.provenance('app.tgz', 'version 1'));
      const byDigest = Object.fromEntries(
        (await h.records.byKey('releases/app.tgz')).map((r) => [r.digest, r]),
      );
      expect(byDigest[`sha256:${sha256('version 1')}`]?.reasons.map((r) => r.code)).toEqual(['SUPERSEDED']);
      expect(h.s3.latest(DEPLOYMENT, 'releases/app.tgz')?.toString()).toBe('version 2');
    });
  });

  describe('when an object key cannot be read safely', () => {
    it('records the refusal without downloading it', async () => {
      const h = harness();
      await h.upload('releases/../secrets/x', 'x');
      const [record] = await h.records.byKey('releases/../secrets/x');
      expect(record?.status).toBe('rejected');
      expect(record?.reasons.map((r) => r.code)).toEqual(['INVALID_PATH']);
      expect(h.s3.requests.filter((r) => r.op === 'open')).toEqual([]);
    });
  });
});
