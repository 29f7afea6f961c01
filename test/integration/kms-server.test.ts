import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  GetKeyPolicyCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  type SigningAlgorithmSpec,
  TagResourceCommand,
  UpdateAliasCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KmsServer, startKmsServer } from '../../local/kms/server.ts';

let server: KmsServer;
let kms: KMSClient;
const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
const client = (endpoint: string) => new KMSClient({ endpoint, region: 'us-east-1', credentials });
const dataDir = mkdtempSync(join(tmpdir(), 'vouch-kms-'));

beforeAll(async () => {
  server = await startKmsServer({ dataDir });
  kms = client(server.endpoint);
});
afterAll(async () => {
  kms.destroy();
  await server.close();
});

const createKey = async (
  KeySpec: 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048',
  Tags = [{ TagKey: 'vouch:purpose', TagValue: 'signing' }],
) =>
  (await kms.send(new CreateKeyCommand({ KeySpec, KeyUsage: 'SIGN_VERIFY', Tags }))).KeyMetadata
    ?.Arn as string;
const nameOf = (error: unknown) => (error as Error).name;

describe('local KMS server (through @aws-sdk/client-kms)', () => {
  describe.each([
    ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'sha256'],
  ] as const)('Sign with %s / %s', (spec, algorithm, hash) => {
    it('produces RAW and DIGEST signatures node:crypto verifies with the GetPublicKey key', async () => {
      const keyId = await createKey(spec);
      const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      const publicKey = createPublicKey({
        key: Buffer.from(PublicKey as Uint8Array),
        format: 'der',
        type: 'spki',
      });
      const message = Buffer.from('attestation bytes');
      const raw = await kms.send(
        new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: algorithm }),
      );
      expect(raw.KeyId).toBe(keyId);
      expect(verify(hash, message, publicKey, Buffer.from(raw.Signature as Uint8Array))).toBe(true);
      const digest = createHash(hash).update(message).digest();
      const prehashed = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: digest,
          MessageType: 'DIGEST',
          SigningAlgorithm: algorithm,
        }),
      );
      expect(verify(hash, message, publicKey, Buffer.from(prehashed.Signature as Uint8Array))).toBe(true);
      const checked = await kms.send(
        new VerifyCommand({
          KeyId: keyId,
          Message: message,
          Signature: prehashed.Signature,
          SigningAlgorithm: algorithm,
        }),
      );
      expect(checked.SignatureValid).toBe(true);
    });
  });

  it('signs RSA-PSS RAW messages node:crypto verifies', async () => {
    const keyId = await createKey('RSA_2048');
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const signed = await kms.send(
      new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
    );
    const key = createPublicKey({ key: Buffer.from(PublicKey as Uint8Array), format: 'der', type: 'spki' });
    expect(
      verify(
        'sha256',
        Buffer.from('m'),
        { key, padding: 6, saltLength: 32 },
        Buffer.from(signed.Signature as Uint8Array),
      ),
    ).toBe(true);
  });

  describe('errors, named as KMS names them', () => {
    it.each<[string, () => Promise<unknown>, string]>([
      [
        'an unknown key',
        () => kms.send(new GetPublicKeyCommand({ KeyId: 'arn:aws:kms:us-east-1:000000000000:key/nope' })),
        'NotFoundException',
      ],
      [
        'an unknown alias',
        () => kms.send(new GetPublicKeyCommand({ KeyId: 'alias/nope' })),
        'NotFoundException',
      ],
      [
        'a wrong algorithm for the key',
        async () =>
          kms.send(
            new SignCommand({
              KeyId: await createKey('ECC_NIST_P256'),
              Message: Buffer.from('m'),
              SigningAlgorithm: 'ECDSA_SHA_384',
            }),
          ),
        'InvalidKeyUsageException',
      ],
      [
        'a digest of the wrong length',
        async () =>
          kms.send(
            new SignCommand({
              KeyId: await createKey('ECC_NIST_P256'),
              Message: Buffer.alloc(20),
              MessageType: 'DIGEST',
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        'ValidationException',
      ],
      [
        'a RAW message over 4096 bytes',
        async () =>
          kms.send(
            new SignCommand({
              KeyId: await createKey('ECC_NIST_P256'),
              Message: Buffer.alloc(4097),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        'ValidationException',
      ],
      [
        'a symmetric key spec',
        () => kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT' })),
        'ValidationException',
      ],
      [
        'a tag value outside KMS tag syntax (# is not in it)',
        () => createKey('ECC_NIST_P256', [{ TagKey: 'vouch:period', TagValue: 'forced#2026-01-01' }]),
        'TagException',
      ],
      [
        'a tag key in the aws: namespace',
        () => createKey('ECC_NIST_P256', [{ TagKey: 'aws:purpose', TagValue: 'x' }]),
        'TagException',
      ],
      [
        'retagging with an invalid value',
        async () =>
          kms.send(
            new TagResourceCommand({
              KeyId: await createKey('ECC_NIST_P256'),
              Tags: [{ TagKey: 'note', TagValue: 'a;b' }],
            }),
          ),
        'TagException',
      ],
      [
        'a key policy that is not JSON',
        () =>
          kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Policy: '{' })),
        'MalformedPolicyDocumentException',
      ],
      [
        'a key policy statement without a principal',
        () =>
          kms.send(
            new CreateKeyCommand({
              KeySpec: 'ECC_NIST_P256',
              KeyUsage: 'SIGN_VERIFY',
              Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }),
            }),
          ),
        'MalformedPolicyDocumentException',
      ],
      [
        'a reserved alias',
        async () =>
          kms.send(
            new CreateAliasCommand({
              AliasName: 'alias/aws/s3',
              TargetKeyId: await createKey('ECC_NIST_P256'),
            }),
          ),
        'NotAuthorizedException',
      ],
    ])('%s', async (_what, call, expected) => {
      await expect(call()).rejects.toSatisfy((error) => nameOf(error) === expected);
    });

    it('rejects a tampered signature with KMSInvalidSignatureException', async () => {
      const keyId = await createKey('ECC_NIST_P256');
      const SigningAlgorithm: SigningAlgorithmSpec = 'ECDSA_SHA_256';
      const { Signature } = await kms.send(
        new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm }),
      );
      await expect(
        kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('n'), Signature, SigningAlgorithm })),
      ).rejects.toSatisfy((error) => nameOf(error) === 'KMSInvalidSignatureException');
    });

    it('refuses to sign with a disabled key (DisabledException) or one pending deletion (KMSInvalidStateException)', async () => {
      const disabled = await createKey('ECC_NIST_P256');
      await kms.send(new DisableKeyCommand({ KeyId: disabled }));
      const sign = (KeyId: string) =>
        kms.send(new SignCommand({ KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
      await expect(sign(disabled)).rejects.toSatisfy((error) => nameOf(error) === 'DisabledException');
      const deleting = await createKey('ECC_NIST_P256');
      const scheduled = await kms.send(
        new ScheduleKeyDeletionCommand({ KeyId: deleting, PendingWindowInDays: 7 }),
      );
      expect(scheduled.KeyState).toBe('PendingDeletion');
      await expect(sign(deleting)).rejects.toSatisfy((error) => nameOf(error) === 'KMSInvalidStateException');
    });
  });

  it('keeps the key policy given to CreateKey, and answers with the default policy otherwise', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:root' },
          Action: 'kms:DescribeKey',
          Resource: '*',
        },
      ],
    });
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Policy: policy,
        BypassPolicyLockoutSafetyCheck: true,
      }),
    );
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata?.Arn }))).Policy).toBe(policy);
    const plain = await createKey('ECC_NIST_P256');
    const fallback = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: plain }))).Policy ?? '{}');
    expect(fallback.Statement[0]).toMatchObject({
      Principal: { AWS: 'arn:aws:iam::000000000000:root' },
      Action: 'kms:*',
    });
  });

  it('resolves aliases, moves them, and signs through them as the target key', async () => {
    const first = await createKey('ECC_NIST_P256');
    const second = await createKey('ECC_NIST_P256');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: first }));
    const sign = () =>
      kms.send(
        new SignCommand({
          KeyId: 'alias/moving',
          Message: Buffer.from('m'),
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      );
    expect((await sign()).KeyId).toBe(first);
    await expect(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: second })),
    ).rejects.toSatisfy((error) => nameOf(error) === 'AlreadyExistsException');
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/moving', TargetKeyId: second }));
    expect((await sign()).KeyId).toBe(second);
    const { Aliases } = await kms.send(new ListAliasesCommand({ KeyId: second }));
    expect(Aliases?.map((a) => a.AliasName)).toEqual(['alias/moving']);
  });

  it('keeps keys, aliases and tags across a restart with the same data directory', async () => {
    const keyId = await createKey('ECC_NIST_P256', [{ TagKey: 'vouch:purpose', TagValue: 'signing' }]);
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/durable', TargetKeyId: keyId }));
    const before = await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/durable' }));
    const restarted = await startKmsServer({ dataDir });
    const again = client(restarted.endpoint);
    try {
      const after = await again.send(new GetPublicKeyCommand({ KeyId: 'alias/durable' }));
      expect(Buffer.from(after.PublicKey as Uint8Array)).toEqual(Buffer.from(before.PublicKey as Uint8Array));
      const { Tags } = await again.send(new ListResourceTagsCommand({ KeyId: keyId }));
      expect(Tags).toEqual([{ TagKey: 'vouch:purpose', TagValue: 'signing' }]);
    } finally {
      again.destroy();
      await restarted.close();
    }
  });

  it('counts calls per operation', async () => {
    server.resetCalls();
    const keyId = await createKey('ECC_NIST_P256');
    await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(Object.fromEntries(server.calls)).toEqual({ CreateKey: 1, GetPublicKey: 2 });
  });
});
