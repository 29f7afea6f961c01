import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vsaKey } from '#core/index.ts';
import {
  type Build,
  builds,
  recordsOf,
  startTestGate,
  statusOf,
  type TestGate,
  upload,
} from '../helpers/gate.ts';

// A revoked key's effective time applies to what was already promoted: the key registry's stream (here
// its local stand-in) re-checks every artifact the key vouched for, and pulls those whose signatures were
// made at or after the effective time.

let gate: TestGate;
let signingKey: string;
let first: Build;
let second: Build;

beforeAll(async () => {
  gate = await startTestGate();
  [first, second] = builds(2, 'revocation') as [Build, Build];
  await upload(gate, first);
  await upload(gate, second);
  await gate.settle();
  const [key] = (await gate.registry.list()).filter((k) => k.status === 'active');
  signingKey = key?.keyId ?? '';
  await gate.keyStream.poll(); // what the stream has seen so far: no revocation
});
afterAll(async () => {
  await gate?.close();
});

const deployed = (build: Build) => gate.store.head(gate.stack.names.deploymentBucket, build.key);
const summary = (build: Build) => gate.store.head(gate.stack.names.deploymentBucket, vsaKey(build.key));

describe('revocation re-check', () => {
  it('starts from two promoted artifacts signed by the current key', async () => {
    expect(signingKey).toMatch(/^arn:aws:kms:/);
    for (const build of [first, second]) {
      expect(await statusOf(gate, build)).toBe('promoted');
      expect((await recordsOf(gate, build))[0]?.keyIds).toEqual([signingKey]);
      expect(await deployed(build)).toBeDefined();
    }
  });

  it('keeps artifacts signed before the effective time', async () => {
    const effective = new Date(Date.now() + 60_000);
    expect(await gate.registry.revoke(signingKey, effective, 'rotating out a key we no longer trust')).toBe(
      'revoked',
    );
    expect(await gate.keyStream.poll()).toBe(1);
    for (const build of [first, second]) {
      expect(await statusOf(gate, build)).toBe('promoted');
      expect(await deployed(build)).toBeDefined();
    }
  });

  it('pulls and quarantines artifacts signed at or after an earlier effective time, VSA first', async () => {
    const effective = new Date(Date.now() - 3_600_000);
    expect(await gate.registry.revoke(signingKey, effective, 'key compromised an hour ago')).toBe('revoked');
    expect(await gate.keyStream.poll()).toBe(1);
    for (const build of [first, second]) {
      const [record] = await recordsOf(gate, build);
      expect(record?.status).toBe('quarantined');
      expect(record?.reasons.map((r) => r.code)).toContain('KEY_REVOKED');
      expect(record?.history.map((h) => h.status)).toEqual(['verified', 'promoted', 'quarantined']);
      expect(await deployed(build)).toBeUndefined();
      expect(await summary(build)).toBeUndefined();
    }
  });

  it('is idempotent: the same revocation seen again changes nothing, and no poll reports it twice', async () => {
    expect(await gate.keyStream.poll()).toBe(0);
    const rechecked = await gate.recheck({
      Records: [
        {
          eventSource: 'aws:dynamodb',
          eventName: 'MODIFY',
          dynamodb: { NewImage: { keyId: { S: signingKey }, revokedAt: { S: new Date(0).toISOString() } } },
        },
      ],
    });
    expect(rechecked).toEqual({ batchItemFailures: [] });
    for (const build of [first, second]) expect(await statusOf(gate, build)).toBe('quarantined');
  });

  it('never promotes a new upload signed by the revoked key (it waits, the revocation noted)', async () => {
    const [late] = builds(1, 'revocation-late') as [Build];
    await upload(gate, late);
    await gate.settle();
    const [record] = await recordsOf(gate, late);
    expect(record?.status).toBe('pending');
    expect(record?.notes?.map((r) => r.code)).toContain('KEY_REVOKED');
    expect(await deployed(late)).toBeUndefined();
  });
});

describe('a revocation during a promotion', () => {
  it('pulls what the promotion copied once the record says quarantined', async () => {
    let racing: TestGate | undefined;
    let revokedDuringPromotion = false;
    const gateUnderRace = await startTestGate({
      wrapDeps: (deps) => ({
        ...deps,
        // Runs after the promotion is claimed and before anything is copied: the re-check lands here.
        vsaSigner: async (message) => {
          if (!revokedDuringPromotion && racing) {
            revokedDuringPromotion = true;
            const [key] = (await racing.registry.list()).filter((k) => k.status === 'active');
            await racing.registry.revoke(key?.keyId ?? '', new Date(0), 'compromised');
            await racing.keyStream.poll();
          }
          return deps.vsaSigner(message);
        },
      }),
    });
    racing = gateUnderRace;
    try {
      await racing.keyStream.poll();
      const [build] = builds(1, 'revocation-race') as [Build];
      await upload(racing, build);
      await racing.settle();
      expect(revokedDuringPromotion).toBe(true);
      const [record] = await recordsOf(racing, build);
      expect(record?.status).toBe('quarantined');
      expect(record?.reasons.map((r) => r.code)).toContain('KEY_REVOKED');
      const deploymentBucket = racing.stack.names.deploymentBucket;
      expect(await racing.store.head(deploymentBucket, build.key)).toBeUndefined();
      expect(await racing.store.head(deploymentBucket, vsaKey(build.key))).toBeUndefined();
    } finally {
      await racing.close();
    }
  });
});
