import { createHash, verify } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationIndex } from '#adapters/attestation-index.ts';
import { fetchVerified } from '#adapters/deployer.ts';
import { KeyRegistry, RegistryKeyCache } from '#adapters/key-registry.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import {
  compilePolicy,
  createStatement,
  evaluate,
  legacyVsaKey,
  loadPolicySyntax,
  loadTrustRoot,
  parseAttestationFile,
  parsePolicy,
  type SignFn,
  signStatement,
  staticKeyLookup,
  summaryEntryFor,
  VOUCH_VERIFIER_ID,
  VSA_PREDICATE_TYPE,
  vsaKey,
} from '#core/index.ts';
import { deliverAll } from '../helpers/deliver.ts';
import { startDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { verifierHandlers } from '../helpers/handlers.ts';
import { testKey } from '../helpers/keys.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';

// parsePolicy is synchronous: the YAML parser and schema check it needs are loaded first, as
// parsePolicyAsync loads them.
await loadPolicySyntax();

const STAGING = 'vouch-staging';
const DEPLOYMENT = 'vouch-deployment';
const PROVENANCE = 'https://slsa.dev/provenance/v1';
const POLICY = `
version: 1
signers:
  pipeline: [{ registry: true }]
rules:
  - name: releases
    match: ["releases/**"]
    require: [{ type: ${PROVENANCE}, signers: [pipeline] }]
  - name: experiments
    match: ["audit/**"]
    mode: audit
    require: [{ type: ${PROVENANCE}, signers: [pipeline] }]
`;

let dynamo: TestDynamo;
let s3: TestS3;
let records: RecordStore;
let handlers: ReturnType<typeof verifierHandlers>;
const signingKey = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/pipeline-signing');
const vsaSigningKey = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/vsa');
/** Runs inside promotion, between verification and the copy: the place an overwrite race would strike. */
let duringPromotion: () => Promise<void> = async () => {};
/** Every VSA signature made (one KMS `Sign` each in AWS). */
const vsaSignatures: Buffer[] = [];
const vsaSigner: SignFn = async (message) => {
  await duringPromotion();
  vsaSignatures.push(message);
  return vsaSigningKey.sign(message);
};

beforeAll(async () => {
  dynamo = await startDynamo();
  s3 = await startS3([STAGING, DEPLOYMENT], STAGING);
  records = new RecordStore(dynamo.doc, dynamo.tables.records);
  const registry = new KeyRegistry(dynamo.doc, dynamo.tables.keys);
  await registry.register({
    keyId: signingKey.keyId,
    alias: 'alias/vouch-signing',
    keySpec: 'ECC_NIST_P256',
    publicKeyPem: signingKey.publicKeyPem,
    status: 'active',
    period: '2020-01-01T00:00:00.000Z',
    validFrom: '2020-01-01T00:00:00.000Z',
    createdAt: '2020-01-01T00:00:00.000Z',
  });
  handlers = verifierHandlers({
    s3: new S3Store(s3.client),
    records,
    index: new AttestationIndex(dynamo.doc, dynamo.tables.index),
    keys: new RegistryKeyCache(registry),
    policy: parsePolicy(POLICY),
    trustRoot: loadTrustRoot(),
    vsaSigner,
    stagingBucket: STAGING,
    deploymentBucket: DEPLOYMENT,
    pendingDeadlineSeconds: 3600,
  });
});
afterAll(async () => {
  await s3?.close();
  await dynamo?.close();
});

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const put = (bucket: string, key: string, body: Buffer | string) =>
  s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const get = async (bucket: string, key: string) => {
  const response = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
};
const exists = (bucket: string, key: string) =>
  s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    () => false,
  );

/** Delivers every pending S3 notification through the real handler, as SQS batches of up to 10. */
async function drain(): Promise<void> {
  expect(await deliverAll(handlers.queue, s3.notifications, 10)).toEqual([]);
}

async function provenanceFor(subjects: { name: string; bytes: string }[]) {
  const statement = createStatement(
    subjects.map(({ name, bytes }) => ({ name, digests: { sha256: sha256(bytes) } })),
    PROVENANCE,
    { runDetails: { builder: { id: 'https://ci.example/builder' } } },
  );
  return JSON.stringify(await signStatement(statement, signingKey.sign));
}

const latest = async (key: string) => (await records.byKey(key))[0];

describe('the verifier pipeline (s3rver + dynalite, real handler)', () => {
  it('promotes an artifact whose attestation arrived first, with a VSA deployers can verify', async () => {
    const bytes = 'release 1.0.0';
    await put(
      STAGING,
      'releases/app-1.0.0.tar.gz.sigstore.json',
      await provenanceFor([{ name: 'app-1.0.0.tar.gz', bytes }]),
    );
    await drain();
    await put(STAGING, 'releases/app-1.0.0.tar.gz', bytes);
    await drain();

    const record = await latest('releases/app-1.0.0.tar.gz');
    expect(record).toMatchObject({
      status: 'promoted',
      digest: `sha256:${sha256(bytes)}`,
      keyIds: [signingKey.keyId],
    });
    expect(record?.history.map((h) => h.status)).toEqual(['verified', 'promoted']);
    expect((await get(DEPLOYMENT, 'releases/app-1.0.0.tar.gz')).toString()).toBe(bytes);

    const vsa = parseAttestationFile(await get(DEPLOYMENT, vsaKey('releases/app-1.0.0.tar.gz')), 'vsa');
    const policy = compilePolicy(
      {
        version: 1,
        rules: [
          {
            name: 'vsa',
            match: ['**'],
            require: [{ type: VSA_PREDICATE_TYPE, signers: [{ keyId: vsaSigningKey.keyId }] }],
          },
        ],
      },
      'sha256:vsa',
    );
    const check = evaluate({
      artifact: { path: 'releases/app-1.0.0.tar.gz', digests: { sha256: sha256(bytes) } },
      attestations: vsa.attestations,
      policy,
      keys: staticKeyLookup([vsaSigningKey.trusted()]),
      observedAt: new Date(),
    });
    expect(check.reasons).toEqual([]);
    const statement = vsa.attestations[0]?.kind === 'statement' ? vsa.attestations[0].statement : undefined;
    expect(statement?.predicate).toMatchObject({
      verificationResult: 'PASSED',
      resourceUri: `s3://${STAGING}`,
    });
    expect(statement && summaryEntryFor(statement, 'releases/app-1.0.0.tar.gz')).toMatchObject({
      resourceUri: `s3://${STAGING}/releases/app-1.0.0.tar.gz`,
      rules: ['releases'],
      keyIds: [signingKey.keyId],
    });
  });

  it('keeps an artifact pending until its attestation arrives, then promotes it', async () => {
    const bytes = 'release 2.0.0';
    await put(STAGING, 'releases/app-2.0.0.tar.gz', bytes);
    await drain();
    expect(await latest('releases/app-2.0.0.tar.gz')).toMatchObject({
      status: 'pending',
      reasons: [expect.objectContaining({ code: 'MISSING_ATTESTATION' })],
    });
    expect(await exists(DEPLOYMENT, 'releases/app-2.0.0.tar.gz')).toBe(false);

    await put(
      STAGING,
      'attestations/build-2.0.0.intoto.sigstore.json',
      await provenanceFor([{ name: 'app-2.0.0.tar.gz', bytes }]),
    );
    await drain();
    expect((await latest('releases/app-2.0.0.tar.gz'))?.history.map((h) => h.status)).toEqual([
      'pending',
      'verified',
      'promoted',
    ]);
    expect((await get(DEPLOYMENT, 'releases/app-2.0.0.tar.gz')).toString()).toBe(bytes);
  });

  it('rejects a tampered artifact with its reason and never promotes it', async () => {
    await put(
      STAGING,
      'releases/tool.bin.sigstore.json',
      await provenanceFor([{ name: 'tool.bin', bytes: 'genuine tool' }]),
    );
    await put(STAGING, 'releases/tool.bin', 'genuine tool + backdoor');
    await drain();
    const record = await latest('releases/tool.bin');
    expect(record?.status).toBe('rejected');
    expect(record?.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['SUBJECT_MISMATCH']));
    expect(await exists(DEPLOYMENT, 'releases/tool.bin')).toBe(false);
  });

  it('promotes every subject of one multi-subject provenance', async () => {
    const subjects = ['a', 'b', 'c'].map((n) => ({ name: `lib-${n}.so`, bytes: `library ${n}` }));
    await put(STAGING, 'releases/libs/provenance.intoto.jsonl', await provenanceFor(subjects));
    for (const { name, bytes } of subjects) await put(STAGING, `releases/libs/${name}`, bytes);
    await drain();
    for (const { name, bytes } of subjects) {
      expect((await latest(`releases/libs/${name}`))?.status).toBe('promoted');
      expect((await get(DEPLOYMENT, `releases/libs/${name}`)).toString()).toBe(bytes);
    }
  });

  it('treats a redelivered event as the same decision (one record, one promotion)', async () => {
    const bytes = 'release 3.0.0';
    await put(
      STAGING,
      'releases/app-3.0.0.tar.gz.sigstore.json',
      await provenanceFor([{ name: 'app-3.0.0.tar.gz', bytes }]),
    );
    await put(STAGING, 'releases/app-3.0.0.tar.gz', bytes);
    s3.notifications.push(...s3.notifications.filter((body) => body.includes('app-3.0.0.tar.gz"')));
    await drain();
    const versions = await records.byKey('releases/app-3.0.0.tar.gz');
    expect(versions).toHaveLength(1);
    expect(versions[0]?.history.map((h) => h.status)).toEqual(['verified', 'promoted']);
  });

  it('never promotes bytes that replaced the verified ones during promotion', async () => {
    const bytes = 'release 4.0.0';
    await put(
      STAGING,
      'releases/app-4.0.0.tar.gz.sigstore.json',
      await provenanceFor([{ name: 'app-4.0.0.tar.gz', bytes }]),
    );
    await drain();
    duringPromotion = async () => {
      duringPromotion = async () => {};
      await put(STAGING, 'releases/app-4.0.0.tar.gz', 'swapped after verification');
    };
    await put(STAGING, 'releases/app-4.0.0.tar.gz', bytes);
    await drain();
    const history = await records.byKey('releases/app-4.0.0.tar.gz');
    const original = history.find((r) => r.digest === `sha256:${sha256(bytes)}`);
    expect(original?.status).toBe('rejected');
    expect(original?.reasons[0]?.message).toMatch(/changed after verification/);
    // Neither the verified bytes (gone from staging) nor the swapped ones (never verified) were promoted.
    expect(await exists(DEPLOYMENT, 'releases/app-4.0.0.tar.gz')).toBe(false);
    expect(await exists(DEPLOYMENT, vsaKey('releases/app-4.0.0.tar.gz'))).toBe(false);
    const swapped = history.find((r) => r.digest === `sha256:${sha256('swapped after verification')}`);
    // The swapped bytes are judged on their own event: the attestation beside them names other bytes.
    expect(swapped?.status).toBe('rejected');
    expect(swapped?.reasons.map((r) => r.code)).toContain('SUBJECT_MISMATCH');
  });

  it('keeps an artifact signed only by an unknown key waiting, with the key noted, never promoted', async () => {
    const stranger = testKey('p256', 'arn:aws:kms:us-east-1:000000000000:key/stranger');
    const statement = createStatement(
      [{ name: 'x', digests: { sha256: sha256('x bytes') } }],
      PROVENANCE,
      {},
    );
    await put(
      STAGING,
      'releases/x.bin.sigstore.json',
      JSON.stringify(await signStatement(statement, stranger.sign)),
    );
    await put(STAGING, 'releases/x.bin', 'x bytes');
    await drain();
    const record = await latest('releases/x.bin');
    expect(record?.status).toBe('pending');
    expect(record?.reasons.map((r) => r.code)).toEqual(['MISSING_ATTESTATION']);
    expect(record?.notes?.map((r) => r.code)).toContain('UNKNOWN_KEY');
    expect(await exists(DEPLOYMENT, 'releases/x.bin')).toBe(false);
  });

  it('promotes and flags an unverified artifact under an audit rule', async () => {
    await put(STAGING, 'audit/experiment.bin', 'unsigned experiment');
    await drain();
    const record = await latest('audit/experiment.bin');
    expect(record).toMatchObject({ status: 'promoted', flagged: true, mode: 'audit' });
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: DEPLOYMENT, Key: 'audit/experiment.bin' }),
    );
    expect(head.Metadata?.['vouch-flagged']).toBe('audit-mode');
  });

  it('records a malformed attestation with its reason', async () => {
    await put(STAGING, 'releases/broken.sigstore.json', '{"mediaType": ');
    await drain();
    expect((await latest('releases/broken.sigstore.json'))?.reasons.map((r) => r.code)).toEqual([
      'PARSE_ERROR',
    ]);
  });

  it('refuses a hostile object key before downloading it', async () => {
    await put(STAGING, 'releases/invoice\u202Egpj.exe', 'malware');
    await drain();
    const record = await latest('releases/invoice\u202Egpj.exe');
    expect(record).toMatchObject({
      status: 'rejected',
      reasons: [expect.objectContaining({ code: 'INVALID_PATH' })],
    });
  });
});

describe('verification summaries signed by the batch', () => {
  it('signs once for the artifacts one invocation promotes; each summary still binds its own key', async () => {
    const artifacts = ['a', 'b', 'c'].map((n) => ({
      key: `releases/batch/${n}.tar.gz`,
      bytes: `batch ${n}`,
    }));
    for (const { key, bytes } of artifacts) {
      await put(
        STAGING,
        `${key}.sigstore.json`,
        await provenanceFor([{ name: key.split('/').pop() ?? '', bytes }]),
      );
      await put(STAGING, key, bytes);
    }
    // All six events in one SQS batch, artifacts before their attestations: one invocation.
    const bodies = s3.notifications.splice(0).reverse();
    expect(bodies).toHaveLength(6);
    const before = vsaSignatures.length;
    expect(await deliverAll(handlers.queue, bodies, 6)).toEqual([]);
    expect(vsaSignatures.length - before).toBe(1);

    const files = await Promise.all(artifacts.map(({ key }) => get(DEPLOYMENT, vsaKey(key))));
    const envelopes = files.map((file) => JSON.parse(file.toString()));
    expect(new Set(envelopes.map((e) => e.payload)).size).toBe(1);
    for (const [i, { key, bytes }] of artifacts.entries()) {
      expect((await latest(key))?.status).toBe('promoted');
      expect(envelopes[i].vouch.artifact).toBe(key);
      // What slsa-verifier's verify-vsa does with the file: a DSSE envelope (other fields ignored), one
      // signature by the VSA key under its key ID, the artifact's digest among the subjects, PASSED, the
      // verifier's ID and the resource URI deployers pass to it.
      const { payloadType, payload, signatures } = envelopes[i];
      expect(payloadType).toBe('application/vnd.in-toto+json');
      expect(signatures).toHaveLength(1);
      expect(signatures[0].keyid).toBe(vsaSigningKey.keyId);
      const body = Buffer.from(payload, 'base64');
      const pae = Buffer.concat([
        Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${body.length} `),
        body,
      ]);
      expect(verify('sha256', pae, vsaSigningKey.publicKey, Buffer.from(signatures[0].sig, 'base64'))).toBe(
        true,
      );
      const statement = JSON.parse(body.toString());
      expect(statement.subject.map((s: { digest: { sha256: string } }) => s.digest.sha256)).toContain(
        sha256(bytes),
      );
      expect(statement.predicate).toMatchObject({
        verifier: { id: VOUCH_VERIFIER_ID },
        resourceUri: `s3://${STAGING}`,
        verificationResult: 'PASSED',
      });
    }
  });
});

describe('vouch fetch against the deployment bucket', () => {
  it('writes a promoted artifact whose bytes match its VSA, and refuses (writing nothing) once they are altered', async () => {
    const { mkdtempSync, existsSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const bytes = 'release 5.0.0';
    await put(
      STAGING,
      'releases/app-5.0.0.tar.gz.sigstore.json',
      await provenanceFor([{ name: 'app-5.0.0.tar.gz', bytes }]),
    );
    await put(STAGING, 'releases/app-5.0.0.tar.gz', bytes);
    await drain();
    const dir = mkdtempSync(join(tmpdir(), 'vouch-fetch-'));
    const store = new S3Store(s3.client);
    const fetch = (output: string) =>
      fetchVerified({
        store,
        bucket: DEPLOYMENT,
        key: 'releases/app-5.0.0.tar.gz',
        output,
        vsaPublicKey: vsaSigningKey.publicKey,
      });

    const good = await fetch(join(dir, 'good'));
    expect(good.ok).toBe(true);
    expect(readFileSync(join(dir, 'good'), 'utf8')).toBe(bytes);

    await put(DEPLOYMENT, 'releases/app-5.0.0.tar.gz', 'release 5.0.0 with a backdoor');
    const refused = await fetch(join(dir, 'altered'));
    expect(refused.ok).toBe(false);
    expect(refused.decision.reasons.map((r) => r.code)).toContain('SUBJECT_MISMATCH');
    expect(existsSync(join(dir, 'altered'))).toBe(false);
  });

  it('refuses an artifact and its VSA copied under another key: a summary is bound to its object key', async () => {
    const { mkdtempSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const bytes = 'scratch build 7';
    await put(
      STAGING,
      'releases/scratch/app-7.tar.gz.sigstore.json',
      await provenanceFor([{ name: 'app-7.tar.gz', bytes }]),
    );
    await put(STAGING, 'releases/scratch/app-7.tar.gz', bytes);
    await drain();
    const vsa = await get(DEPLOYMENT, vsaKey('releases/scratch/app-7.tar.gz'));
    await put(DEPLOYMENT, 'releases/prod/app-7.tar.gz', bytes);
    await put(DEPLOYMENT, vsaKey('releases/prod/app-7.tar.gz'), vsa);
    const dir = mkdtempSync(join(tmpdir(), 'vouch-fetch-'));
    const result = await fetchVerified({
      store: new S3Store(s3.client),
      bucket: DEPLOYMENT,
      key: 'releases/prod/app-7.tar.gz',
      output: join(dir, 'out'),
      vsaPublicKey: vsaSigningKey.publicKey,
    });
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.code)).toContain('SUBJECT_MISMATCH');
    expect(result.problems[0]?.message).toMatch(/issued for "releases\/scratch\/app-7.tar.gz"/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('refuses a summary past its validity period with VSA_EXPIRED, writing nothing', async () => {
    const { mkdtempSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'vouch-fetch-'));
    const fetch = (now: Date, output: string) =>
      fetchVerified({
        store: new S3Store(s3.client),
        bucket: DEPLOYMENT,
        key: 'releases/app-1.0.0.tar.gz',
        output: join(dir, output),
        vsaPublicKey: vsaSigningKey.publicKey,
        now,
      });
    const fresh = await fetch(new Date(), 'fresh');
    expect(fresh.ok).toBe(true);
    const validUntil = Date.parse(fresh.validUntil ?? '');
    // The stack's default: 30 days from signing.
    expect(validUntil - Date.now()).toBeGreaterThan(29 * 24 * 3600_000);
    const late = await fetch(new Date(validUntil + 1000), 'late');
    expect(late.ok).toBe(false);
    expect(late.problems.map((p) => p.code)).toEqual(['VSA_EXPIRED']);
    expect(existsSync(join(dir, 'late'))).toBe(false);
  });

  it('names a summary from before summaries expired, and refuses it', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    await put(DEPLOYMENT, 'releases/old-1.tar.gz', 'old bytes');
    await put(DEPLOYMENT, legacyVsaKey('releases/old-1.tar.gz'), '{}');
    await expect(
      fetchVerified({
        store: new S3Store(s3.client),
        bucket: DEPLOYMENT,
        key: 'releases/old-1.tar.gz',
        output: join(mkdtempSync(join(tmpdir(), 'vouch-fetch-')), 'out'),
        vsaPublicKey: vsaSigningKey.publicKey,
      }),
    ).rejects.toThrow(/before summaries carried a validity period/);
  });

  it('refuses a VSA signed by another key', async () => {
    const { mkdtempSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const bytes = 'release 8.0.0';
    await put(
      STAGING,
      'releases/app-8.0.0.tar.gz.sigstore.json',
      await provenanceFor([{ name: 'app-8.0.0.tar.gz', bytes }]),
    );
    await put(STAGING, 'releases/app-8.0.0.tar.gz', bytes);
    await drain();
    expect((await latest('releases/app-8.0.0.tar.gz'))?.status).toBe('promoted');
    const dir = mkdtempSync(join(tmpdir(), 'vouch-fetch-'));
    const result = await fetchVerified({
      store: new S3Store(s3.client),
      bucket: DEPLOYMENT,
      key: 'releases/app-8.0.0.tar.gz',
      output: join(dir, 'out'),
      vsaPublicKey: testKey().publicKey,
    });
    expect(result.ok).toBe(false);
    expect(result.decision.reasons.map((r) => r.code)).toEqual(['SIGNATURE_INVALID', 'MISSING_ATTESTATION']);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
