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
import { testKey } from '../helpers/keys.ts';

// A revoked key's effective time applies to what was already promoted: the key registry's stream (here
// its local stand-in) re-checks every artifact the key vouched for, and pulls those whose signatures were
// made at or after the effective time. Each case revokes a key of its own, so none depends on another.

let gate: TestGate;

beforeAll(async () => {
  gate = await startTestGate();
  await gate.keyStream.poll(); // what the stream has seen so far: no revocation
});
afterAll(async () => {
  await gate?.close();
});

const deployed = (build: Build) => gate.store.head(gate.stack.names.deploymentBucket, build.key);
const summary = (build: Build) => gate.store.head(gate.stack.names.deploymentBucket, vsaKey(build.key));

let runs = 0;
/**
 * A registry key of this case's own (active since 2020, as a rotated key of the app pipeline would be), and two
 * artifacts promoted on its signatures; the key stream has caught up with everything before.
 */
async function twoPromotedOnAKeyOfTheirOwn() {
  const run = `revocation-${++runs}`;
  const key = testKey('p256', `arn:aws:kms:us-east-1:000000000000:key/${run}`);
  await gate.registry.register({
    keyId: key.keyId,
    alias: `alias/vouch-signing/${run}`,
    // A key of the app pipeline, which owns releases/ (where these builds go).
    pipeline: 'app',
    keySpec: 'ECC_NIST_P256',
    publicKeyPem: key.publicKeyPem,
    status: 'active',
    period: '2020-01-01T00:00:00.000Z',
    validFrom: '2020-01-01T00:00:00.000Z',
    createdAt: '2020-01-01T00:00:00.000Z',
  });
  const [first, second] = builds(2, run) as [Build, Build];
  for (const build of [first, second]) await upload(gate, build, build.bytes, key.sign);
  await gate.settle();
  await gate.keyStream.poll();
  return { key, builds: [first, second], run };
}

describe('revocation re-check', () => {
  it('starts from two promoted artifacts signed by the key under test', async () => {
    const { key, builds: both } = await twoPromotedOnAKeyOfTheirOwn();
    for (const build of both) {
      expect(await statusOf(gate, build)).toBe('promoted');
      expect((await recordsOf(gate, build))[0]?.keyIds).toEqual([key.keyId]);
      expect(await deployed(build)).toBeDefined();
    }
  });

  it('keeps artifacts signed before the effective time', async () => {
    const { key, builds: both } = await twoPromotedOnAKeyOfTheirOwn();
    const effective = new Date(Date.now() + 60_000);
    expect(await gate.registry.revoke(key.keyId, effective, 'rotating out a key we no longer trust')).toBe(
      'revoked',
    );
    expect(await gate.keyStream.poll()).toBe(1);
    for (const build of both) {
      expect(await statusOf(gate, build)).toBe('promoted');
      expect(await deployed(build)).toBeDefined();
    }
  });

  it('pulls and quarantines artifacts signed at or after an earlier effective time, VSA first', async () => {
    const { key, builds: both } = await twoPromotedOnAKeyOfTheirOwn();
    const effective = new Date(Date.now() - 3_600_000);
    expect(await gate.registry.revoke(key.keyId, effective, 'key compromised an hour ago')).toBe('revoked');
    expect(await gate.keyStream.poll()).toBe(1);
    for (const build of both) {
      const [record] = await recordsOf(gate, build);
      expect(record?.status).toBe('quarantined');
      expect(record?.reasons[0]?.code).toBe('KEY_REVOKED');
      expect(record?.history.map((h) => h.status)).toEqual(['verified', 'promoted', 'quarantined']);
      expect(await deployed(build)).toBeUndefined();
      expect(await summary(build)).toBeUndefined();
    }
  });

  it('is idempotent: the same revocation seen again changes nothing, and no poll reports it twice', async () => {
    const { key, builds: both } = await twoPromotedOnAKeyOfTheirOwn();
    expect(await gate.registry.revoke(key.keyId, new Date(0), 'compromised')).toBe('revoked');
    expect(await gate.keyStream.poll()).toBe(1);
    const histories = await Promise.all(
      both.map(async (build) => (await recordsOf(gate, build))[0]?.history),
    );
    expect(await gate.keyStream.poll()).toBe(0);
    const rechecked = await gate.recheck({
      Records: [
        {
          eventSource: 'aws:dynamodb',
          eventName: 'MODIFY',
          dynamodb: { NewImage: { keyId: { S: key.keyId }, revokedAt: { S: new Date(0).toISOString() } } },
        },
      ],
    });
    expect(rechecked).toEqual({ batchItemFailures: [] });
    for (const [i, build] of both.entries()) {
      const [record] = await recordsOf(gate, build);
      expect(record?.status).toBe('quarantined');
      expect(record?.history).toEqual(histories[i]);
    }
  });

  it('never promotes a new upload signed by the revoked key (it waits, the revocation noted)', async () => {
    const { key, run } = await twoPromotedOnAKeyOfTheirOwn();
    expect(await gate.registry.revoke(key.keyId, new Date(Date.now() - 60_000), 'compromised')).toBe(
      'revoked',
    );
    await gate.keyStream.poll();
    const [late] = builds(1, `${run}-late`) as [Build];
    await upload(gate, late, late.bytes, key.sign);
    await gate.settle();
    const [record] = await recordsOf(gate, late);
    expect(record?.status).toBe('pending');
    expect(record?.reasons[0]?.code).toBe('MISSING_ATTESTATION');
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
            const [key] = (await racing.registry.list()).filter(
              (k) => k.status === 'active' && k.pipeline === 'app',
            );
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
