import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { getPublicKey, kmsSigner } from '#adapters/kms.ts';
import {
  compilePolicy,
  createStatement,
  evaluate,
  parseAttestationFile,
  type RotationConfig,
  signStatement,
} from '#core/index.ts';
import { main } from '../../bin/vouch.ts';
import {
  keyPolicyOption,
  POLICY_TAG,
  type RotationDeps,
  rotate,
  tagValue,
} from '../../lambdas/rotate/rotate.ts';
import { type KmsServer, startKmsServer } from '../../local/kms/server.ts';
import { startDynamo, TEST_CREDENTIALS, type TestDynamo } from '../helpers/dynamo.ts';

const DAY = 86_400_000;
const config: RotationConfig = {
  alias: 'alias/vouch-signing',
  keySpec: 'ECC_NIST_P256',
  periodDays: 30,
  graceDays: 2,
  retentionDays: 10,
  deletionWindowDays: 7,
};
const T0 = new Date(Math.ceil(Date.parse('2026-03-01T00:00:00Z') / (30 * DAY)) * 30 * DAY);
const at = (days: number) => new Date(T0.getTime() + days * DAY);

let kmsServer: KmsServer;
/** The time the tests simulate, for this process and KMS alike (key creation dates come from KMS). */
let simulated = new Date();
let kms: KMSClient;
let dynamo: TestDynamo;
let registry: KeyRegistry;
/** The key policy the stack configures (lambdas/rotate/key-policy.ts), in the local server's account. */
const POLICY = {
  alias: config.alias,
  managerArn: 'arn:aws:iam::000000000000:role/Vouch-key-rotation-us-east-1',
  signerArns: ['arn:aws:iam::000000000000:role/Vouch-UploaderRole'],
  readerArns: ['arn:aws:iam::000000000000:role/Vouch-PromoterRole'],
};
const keyPolicy = keyPolicyOption(POLICY);
const deps = (now: Date, policy = keyPolicy): RotationDeps => {
  simulated = now;
  return { kms, registry, now: () => now, keyPolicy: policy };
};
const tagsOf = async (keyId: string) =>
  Object.fromEntries(
    ((await kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags ?? []).map((t) => [
      t.TagKey,
      t.TagValue,
    ]),
  );
const policyOf = async (keyId: string) => (await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy;

beforeAll(async () => {
  kmsServer = await startKmsServer({ clock: () => simulated });
  kms = new KMSClient({ endpoint: kmsServer.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  dynamo = await startDynamo();
  registry = new KeyRegistry(dynamo.doc, dynamo.tables.keys);
});
afterAll(async () => {
  kms.destroy();
  await kmsServer.close();
  await dynamo.close();
});

const artifact = Buffer.from('artifact bytes');
const digests = { sha256: createHash('sha256').update(artifact).digest('hex') };
const policy = compilePolicy(
  {
    version: 1,
    rules: [
      {
        name: 'all',
        match: ['**'],
        require: [{ type: 'https://slsa.dev/provenance/v1', signers: [{ registry: true }] }],
      },
    ],
  },
  'sha256:test',
);
const signWith = async (keyId: string) =>
  JSON.stringify(
    await signStatement(
      createStatement([{ name: 'a', digests }], 'https://slsa.dev/provenance/v1', {}),
      kmsSigner(kms, keyId),
    ),
  );

/** Verifies as the pipeline does: keys from the registry, the upload time as the trusted signing time. */
async function verifyAt(bundle: string, observedAt: Date) {
  const cache = new RegistryKeyCache(registry, 0);
  const parsed = parseAttestationFile(bundle, 'b');
  await cache.preload(
    parsed.attestations.flatMap((a) =>
      a.signatures.map((s) =>
        s.verificationMaterial.content.$case === 'publicKey'
          ? s.verificationMaterial.content.publicKey.hint
          : '',
      ),
    ),
  );
  return evaluate({
    artifact: { path: 'a', digests },
    attestations: parsed.attestations,
    policy,
    keys: cache.lookup,
    observedAt,
  });
}

// Each case runs on an alias of its own, from its own first key: none depends on another's keys.
let aliases = 0;
const fresh = (): RotationConfig => ({ ...config, alias: `alias/lifecycle-${++aliases}` });
const policyFor = (alias: string) => keyPolicyOption({ ...POLICY, alias });
/** The environment `vouch` is run with: the local servers, passed to it, never written to process.env. */
const cliEnv = () => ({
  AWS_ENDPOINT_URL_KMS: kmsServer.endpoint,
  AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
});
function cli(env: Record<string, string>) {
  const lines: string[] = [];
  const io = {
    out: (t: string) => lines.push(t),
    err: (t: string) => lines.push(t),
    env: { ...cliEnv(), ...env },
  };
  return { lines, run: (args: string[]) => main(args, io) };
}

/** The first key of an alias (day 1), a bundle it signed, and the rotation of day 30 that retired it. */
async function rotatedOnce(c: RotationConfig) {
  const first = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated as string;
  const signedBeforeRotation = await signWith(c.alias);
  const rotation = await rotate(deps(at(30), policyFor(c.alias)), c);
  return { first, signedBeforeRotation, rotation, second: rotation.activated as string };
}

describe('key lifecycle on the local KMS server and dynalite', () => {
  it('bootstraps the first key and points the alias at it', async () => {
    const c = fresh();
    const result = await rotate(deps(at(1), policyFor(c.alias)), c);
    expect(result.activated).toMatch(/^arn:aws:kms:/);
    expect(result.reason).toBe('period');
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(result.activated);
    expect(await rotate(deps(at(2), policyFor(c.alias)), c)).toMatchObject({ skipped: 'up-to-date' });
  });

  it('keeps accepting a bundle signed before a rotation, after it', async () => {
    const c = fresh();
    const { first, signedBeforeRotation, rotation } = await rotatedOnce(c);
    expect(rotation.activated).not.toBe(first);
    expect(rotation.retired).toEqual([first]);
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(rotation.activated);
    expect((await verifyAt(signedBeforeRotation, at(29))).reasons).toEqual([]);
    // Uploaded during the grace period after the rotation: still inside the old key's window.
    expect((await verifyAt(signedBeforeRotation, at(31))).accepted).toBe(true);
  });

  it('rejects a signature by the retired key observed after its window', async () => {
    const { first } = await rotatedOnce(fresh());
    const late = await signWith(first);
    const decision = await verifyAt(late, at(33));
    expect(decision.accepted).toBe(false);
    expect(decision.reasons[0]?.code).toBe('MISSING_ATTESTATION');
    expect(decision.notes.map((r) => r.code)).toContain('KEY_NOT_VALID_AT_TIME');
  });

  it('disables the retired key in KMS once its window closes, and schedules deletion after retention', async () => {
    const c = fresh();
    const { first, signedBeforeRotation } = await rotatedOnce(c);
    const closing = await rotate(deps(at(33), policyFor(c.alias)), c);
    expect(closing.disabled).toEqual([first]);
    await expect(
      kms.send(
        new SignCommand({ KeyId: first, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }),
      ),
    ).rejects.toThrow();
    expect((await rotate(deps(at(43), policyFor(c.alias)), c)).deletionScheduled).toEqual([first]);
    // The registry keeps the public key: what the key signed in its window still verifies.
    expect((await verifyAt(signedBeforeRotation, at(29))).accepted).toBe(true);
  });

  it('rejects signatures observed at or after a revocation and accepts earlier ones', async () => {
    const c = fresh();
    const { second: current } = await rotatedOnce(c);
    const bundle = await signWith(c.alias);
    const { lines, run } = cli({ VOUCH_KEYS_TABLE: dynamo.tables.keys, VOUCH_SIGNING_KEY_ALIAS: c.alias });
    expect(
      await run([
        'keys',
        'revoke',
        current,
        '--effective',
        at(40).toISOString(),
        '--reason',
        'key material leaked',
      ]),
    ).toBe(0);
    // It was the active key: disabled in KMS, and replaced behind the alias at once.
    expect(lines.join('\n')).toMatch(/activated arn:aws:kms:/);
    expect((await getPublicKey(kms, c.alias)).keyArn).not.toBe(current);
    expect((await registry.get(current))?.disabledAt).toBeDefined();
    expect((await verifyAt(bundle, at(39))).accepted).toBe(true);
    // One millisecond before the effective time, at it, and one after.
    expect((await verifyAt(bundle, new Date(at(40).getTime() - 1))).accepted).toBe(true);
    const after = await verifyAt(bundle, at(40));
    expect(after.accepted).toBe(false);
    expect(after.notes.map((r) => r.code)).toContain('KEY_REVOKED');
    expect(after.notes.find((r) => r.code === 'KEY_REVOKED')?.message).toContain('key material leaked');
    expect((await verifyAt(bundle, new Date(at(40).getTime() + 1))).accepted).toBe(false);
    // Only earlier: a later effective time does not re-validate what the earlier one rejected.
    expect(
      await run(['keys', 'revoke', current, '--effective', at(50).toISOString(), '--reason', 'oops']),
    ).toBe(0);
    expect((await verifyAt(bundle, at(45))).accepted).toBe(false);
  });

  it('lets exactly one of several concurrent rotation runs create a key', async () => {
    const c = fresh();
    await rotate(deps(at(1), policyFor(c.alias)), c);
    const before = (await kms.send(new ListKeysCommand({}))).Keys?.length ?? 0;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => rotate(deps(at(31), policyFor(c.alias)), c)),
    );
    expect(results.filter((r) => r.activated)).toHaveLength(1);
    expect(results.filter((r) => r.skipped === 'lease-held')).toHaveLength(3);
    expect((await kms.send(new ListKeysCommand({}))).Keys?.length).toBe(before + 1);
    const active = (await registry.list()).filter((k) => k.alias === c.alias && k.status === 'active');
    expect(active.map((k) => k.keyId)).toEqual([results.find((r) => r.activated)?.activated]);
  });

  it('creates every key with the configured key policy, never KMS’s default, and tags its digest', async () => {
    const c = fresh();
    await rotatedOnce(c);
    const keys = (await registry.list()).filter((k) => k.alias === c.alias);
    expect(keys).toHaveLength(2);
    for (const { keyId } of keys) {
      expect(await policyOf(keyId)).toBe(policyFor(c.alias).document);
      expect((await tagsOf(keyId))[POLICY_TAG]).toBe(policyFor(c.alias).digest);
    }
  });

  it('replaces the active key once when a deployment changes the policy (a signer added)', async () => {
    const c = fresh();
    const active = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated;
    const widened = keyPolicyOption({
      ...POLICY,
      alias: c.alias,
      signerArns: [...POLICY.signerArns, 'arn:aws:iam::000000000000:role/release'],
    });
    const result = await rotate(deps(at(2), widened), c);
    expect(result).toMatchObject({ reason: 'policy', retired: [active] });
    expect(await policyOf(result.activated as string)).toBe(widened.document);
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(result.activated);
    // Every later run with the same configuration finds the key up to date.
    expect(await rotate(deps(at(3), widened), c)).toMatchObject({ skipped: 'up-to-date' });
    // And the old configuration, deployed again, rotates once more.
    expect((await rotate(deps(at(4), policyFor(c.alias)), c)).reason).toBe('policy');
  });

  it('rotates by hand with `vouch keys rotate --force`, tagging the key within KMS tag syntax', async () => {
    const c = fresh();
    const before = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated;
    const { lines, run } = cli({ VOUCH_KEYS_TABLE: dynamo.tables.keys, VOUCH_SIGNING_KEY_ALIAS: c.alias });
    // The local KMS server refuses tag values outside KMS's syntax, as KMS does (a '#' used to get in).
    expect(await run(['keys', 'rotate', '--force'])).toBe(0);
    const after = (await getPublicKey(kms, c.alias)).keyArn;
    expect(after).not.toBe(before);
    expect(lines.join('\n')).toContain(`activated ${after}`);
    const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: after }));
    const period = Tags?.find((t) => t.TagKey === 'vouch:period')?.TagValue ?? '';
    expect(period).toMatch(/^forced:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(tagValue(period)).toBe(period);
  });

  it('gives a key rotated by hand the active key’s policy, and refuses to copy KMS’s default one', async () => {
    const c = fresh();
    const active = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated as string;
    const { lines, run } = cli({ VOUCH_KEYS_TABLE: dynamo.tables.keys, VOUCH_SIGNING_KEY_ALIAS: c.alias });
    expect(await run(['keys', 'rotate', '--force'])).toBe(0);
    const rotated = (await getPublicKey(kms, c.alias)).keyArn;
    expect(await policyOf(rotated)).toBe(await policyOf(active));
    expect((await tagsOf(rotated))[POLICY_TAG]).toBe((await tagsOf(active))[POLICY_TAG]);

    // An alias whose active key was made without a policy (before Vouch set them): nothing to copy.
    const legacyAlias = `${c.alias}-legacy`;
    const legacy = (
      await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
    ).KeyMetadata?.Arn as string;
    const { publicKey } = await getPublicKey(kms, legacy);
    await registry.register({
      keyId: legacy,
      alias: legacyAlias,
      keySpec: 'ECC_NIST_P256',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      status: 'active',
      period: 'legacy',
      validFrom: at(0).toISOString(),
      createdAt: at(0).toISOString(),
    });
    const refused = cli({ VOUCH_KEYS_TABLE: dynamo.tables.keys, VOUCH_SIGNING_KEY_ALIAS: legacyAlias });
    expect(await refused.run(['keys', 'rotate', '--force'])).toBe(2);
    expect(refused.lines.join('\n')).toMatch(
      /has KMS's default key policy, not Vouch's: set VOUCH_SIGNING_KEY_MANAGER/,
    );
    expect(lines.join('\n')).not.toMatch(/default key policy/);
    // With the configuration given, the CLI builds the policy as the rotation function does.
    const configured = cli({
      VOUCH_KEYS_TABLE: dynamo.tables.keys,
      VOUCH_SIGNING_KEY_ALIAS: legacyAlias,
      VOUCH_SIGNING_KEY_MANAGER: POLICY.managerArn,
      VOUCH_SIGNING_KEY_SIGNERS: POLICY.signerArns.join(','),
      VOUCH_SIGNING_KEY_READERS: POLICY.readerArns.join(','),
    });
    expect(await configured.run(['keys', 'rotate', '--force'])).toBe(0);
    const freshKey = (await getPublicKey(kms, legacyAlias)).keyArn;
    expect(JSON.parse((await policyOf(freshKey)) ?? '{}')).toEqual(
      JSON.parse(keyPolicyOption({ ...POLICY, alias: legacyAlias }).document),
    );
  });

  it('produces with `vouch sign` a bundle that @sigstore/verify itself accepts', async () => {
    const c = fresh();
    await rotate(deps(at(1), policyFor(c.alias)), c);
    const dir = mkdtempSync(join(tmpdir(), 'vouch-sign-'));
    const file = join(dir, 'app.tar.gz');
    writeFileSync(file, artifact);
    const { run } = cli({});
    expect(
      await run([
        'sign',
        file,
        '--key',
        c.alias,
        '--builder-id',
        'https://ci.example/builder',
        '--source-uri',
        'git+https://github.com/acme/app',
      ]),
    ).toBe(0);
    const json = JSON.parse(readFileSync(`${file}.sigstore.json`, 'utf8'));
    const { keyArn, publicKey } = await getPublicKey(kms, c.alias);
    expect(json.verificationMaterial.publicKey.hint).toBe(keyArn);

    const root = TrustedRoot.fromJSON(
      JSON.parse(
        readFileSync(
          new URL('../../lambdas/core/trust/public-good.trusted_root.json', import.meta.url),
          'utf8',
        ),
      ),
    );
    const material = toTrustMaterial(root, () => ({ publicKey, validFor: () => true }));
    const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(json)))).not.toThrow();
    const tampered = {
      ...json,
      dsseEnvelope: { ...json.dsseEnvelope, payload: Buffer.from('{}').toString('base64') },
    };
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(tampered)))).toThrow(/signature/i);

    const pem = join(dir, 'key.pem');
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    expect(
      await run(['verify', file, '-a', `${file}.sigstore.json`, '--key', pem, '--type', 'slsaprovenance1']),
    ).toBe(0);
  });
});

describe('a key lifecycle that repairs itself', () => {
  // Each case on its own alias, so the registry and KMS hold only its keys.
  const active = async (alias: string) =>
    (await registry.list()).filter((k) => k.alias === alias && k.status === 'active').map((k) => k.keyId);
  /** KMS that fails the first call of one operation, as a crash at that point would leave things. */
  const crashingOn = (operation: string): KMSClient => {
    let crashed = false;
    return Object.assign(Object.create(kms), {
      send: (command: { constructor: { name: string } }) => {
        if (!crashed && command.constructor.name === `${operation}Command`) {
          crashed = true;
          return Promise.reject(new Error(`crashed before ${operation}`));
        }
        return kms.send(command as never);
      },
    });
  };

  it('moves the alias onto the newest key when a crash left it on the key just retired', async () => {
    const c = fresh();
    const first = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated as string;
    await expect(
      rotate({ ...deps(at(31), policyFor(c.alias)), kms: crashingOn('UpdateAlias'), leaseMs: 0 }, c),
    ).rejects.toThrow(/crashed before UpdateAlias/);
    const [second] = await active(c.alias);
    expect(second).not.toBe(first);
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(first);
    const repaired = await rotate(deps(at(32), policyFor(c.alias)), c);
    expect(repaired.reason).toBe('resumed');
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(second);
  });

  it('retires the older key when a crash left two active ones (registered, not yet retired)', async () => {
    const c = fresh();
    const first = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated as string;
    let crashed = false;
    const crashingRegistry = Object.assign(Object.create(registry), {
      retire: async () => {
        crashed = true;
        throw new Error('crashed before retiring');
      },
    });
    await expect(
      rotate({ ...deps(at(31), policyFor(c.alias)), registry: crashingRegistry, leaseMs: 0 }, c),
    ).rejects.toThrow(/crashed before retiring/);
    expect(crashed).toBe(true);
    const both = await active(c.alias);
    expect(both).toHaveLength(2);
    const repaired = await rotate(deps(at(32), policyFor(c.alias)), c);
    expect(repaired).toMatchObject({ reason: 'resumed', retired: [first] });
    const [second] = both.filter((k) => k !== first);
    expect(await active(c.alias)).toEqual([second]);
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(second);
  });

  it('lets one of two forced runs at once rotate, and never leaves the alias without an active key', async () => {
    const c = fresh();
    await rotate(deps(at(1), policyFor(c.alias)), c);
    const runs = await Promise.all([
      rotate(deps(at(2), policyFor(c.alias)), c, { force: true }),
      rotate(deps(at(2), policyFor(c.alias)), c, { force: true }),
    ]);
    expect(runs.filter((r) => r.activated)).toHaveLength(1);
    expect(runs.filter((r) => r.skipped === 'lease-held')).toHaveLength(1);
    const keys = await active(c.alias);
    expect(keys).toEqual([runs.find((r) => r.activated)?.activated]);
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(keys[0]);
  });

  it('disables a revoked key in KMS, gives it an end of validity, and activates a new one', async () => {
    const c = fresh();
    const key = (await rotate(deps(at(1), policyFor(c.alias)), c)).activated as string;
    await registry.revoke(key, at(2), 'leaked');
    expect(await registry.get(key)).toMatchObject({ validUntil: at(2).toISOString() });
    const result = await rotate(deps(at(3), policyFor(c.alias)), c);
    expect(result.disabled).toEqual([key]);
    expect(result.activated).toBeDefined();
    await expect(
      kms.send(new SignCommand({ KeyId: key, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })),
    ).rejects.toThrow();
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(result.activated);
    expect(await registry.get(key)).toMatchObject({ status: 'revoked', disabledAt: at(3).toISOString() });
  });

  it("dates a key by KMS's clock, not the caller's", async () => {
    const c = fresh();
    const callerDayAhead = new Date(at(1).getTime() + DAY);
    simulated = at(1); // KMS's clock
    const key = (await rotate({ kms, registry, now: () => callerDayAhead, keyPolicy: policyFor(c.alias) }, c))
      .activated as string;
    expect((await registry.get(key))?.validFrom).toBe(
      new Date(Math.floor(at(1).getTime() / 1000) * 1000).toISOString(),
    );
  });

  it('adopts the key a run created and crashed before recording, rather than leaving it enabled', async () => {
    const c = fresh();
    await rotate(deps(at(1), policyFor(c.alias)), c);
    const before = (await kms.send(new ListKeysCommand({}))).Keys?.length ?? 0;
    // The crash: a lease taken for a forced rotation, the key created and tagged, its ID never recorded.
    const purpose = 'forced:2026-01-01T00:00:00.000Z';
    expect(await registry.acquireRotationLease(c.alias, 'crashed', at(2), 1)).toBeDefined();
    await registry.beginLeaseWork(c.alias, 'crashed', purpose);
    const orphan = (
      await kms.send(
        new CreateKeyCommand({
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          Policy: policyFor(c.alias).document,
          Tags: [
            { TagKey: 'vouch:purpose', TagValue: 'signing' },
            { TagKey: 'vouch:alias', TagValue: c.alias },
            { TagKey: 'vouch:period', TagValue: purpose },
            { TagKey: POLICY_TAG, TagValue: policyFor(c.alias).digest },
          ],
        }),
      )
    ).KeyMetadata?.Arn as string;
    const result = await rotate(deps(at(3), policyFor(c.alias)), c);
    expect(result).toMatchObject({ activated: orphan, reason: 'resumed' });
    expect((await kms.send(new ListKeysCommand({}))).Keys?.length).toBe(before + 1);
    expect((await getPublicKey(kms, c.alias)).keyArn).toBe(orphan);
  });
});
