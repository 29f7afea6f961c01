import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAttestationFile, readSummaryFile, signPayload, vsaKey } from '#core/index.ts';
import { startTestGate, type TestGate } from '../helpers/gate.ts';
import { vouch } from '../unit/bin/binary.ts';

/**
 * The verification summary (VSA) keys get the registry's treatment (issue 19, item 14): the stack's
 * first key adopted, rotation, revocation with summaries signed again, and deployers who trust the
 * registry or pin key IDs, never an alias. Every case that changes the summary keys runs on a gate of
 * its own; the others read one fixture, made once.
 */
const out = mkdtempSync(join(tmpdir(), 'vouch-summary-keys-'));
let n = 0;

/** What the cases do on one gate: promote, read the summary's signer, run `vouch fetch` and `vouch keys`. */
function on(gate: TestGate) {
  const deployment = gate.stack.names.deploymentBucket;
  return {
    async promote(): Promise<string> {
      const key = `releases/summary-${++n}/app.tar.gz`;
      const bytes = randomBytes(2048);
      const staging = gate.stack.names.stagingBucket;
      await gate.store.put(staging, `${key}.sigstore.json`, await gate.provenance('app.tar.gz', bytes));
      await gate.store.put(staging, key, bytes, {}, 'application/gzip');
      await gate.settle();
      expect((await gate.records.byKey(key))[0]?.status).toBe('promoted');
      return key;
    },
    /** The key that signed the summary beside a promoted artifact. */
    async summarySigner(key: string): Promise<string> {
      const read = await gate.store.readSmall(deployment, vsaKey(key), 1 << 20);
      if ('tooLarge' in read) throw new Error('too large');
      const material = parseAttestationFile(readSummaryFile(read.content, 'vsa').envelope, 'vsa')
        .attestations[0]?.signatures[0]?.verificationMaterial.content;
      return material?.$case === 'publicKey' ? material.publicKey.hint : '';
    },
    summary: (key: string) => gate.store.readSmall(deployment, vsaKey(key), 1 << 20),
    fetch: (key: string, args: string[] = [], env: Record<string, string> = gate.env) =>
      vouch(['fetch', `s3://${deployment}/${key}`, '-o', join(out, `f-${++n}`), ...args], { env }),
    keys: (...args: string[]) => vouch(['keys', ...args], { env: gate.env }),
    async rotate(): Promise<string> {
      const rotated = await vouch(['keys', 'rotate', '--vsa', '--force'], { env: gate.env });
      expect(rotated.code).toBe(0);
      const activated = /activated (arn:aws:kms:[^\s;]+)/.exec(rotated.stdout)?.[1] as string;
      expect(activated).toMatch(/^arn:aws:kms:/);
      return activated;
    },
    summaryKeys: async () => (await gate.registry.list()).filter((k) => k.purpose === 'vsa'),
  };
}

describe('summary (VSA) keys, once rotated', () => {
  let gate: TestGate;
  let use: ReturnType<typeof on>;
  /** Promoted before the rotation, signed by the adopted first key; and after it, by the new key. */
  let first: string;
  let firstVsa: string;
  let second: string;
  let secondVsa: string;

  beforeAll(async () => {
    gate = await startTestGate();
    use = on(gate);
    first = await use.promote();
    firstVsa = await use.summarySigner(first);
    secondVsa = await use.rotate();
    second = await use.promote();
  }, 60_000);
  afterAll(async () => {
    await gate?.close();
  });

  it("start as the stack's first key, adopted: summaries verify against the registry", async () => {
    const adopted = (await use.summaryKeys()).find((k) => k.keyId === firstVsa);
    expect(adopted).toMatchObject({ external: true, alias: 'alias/vouch-vsa/rotating' });
    const run = await use.fetch(first);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it('rotate: later summaries are signed by the new key, and earlier ones still verify', async () => {
    expect(secondVsa).not.toBe(firstVsa);
    expect(await use.summarySigner(second)).toBe(secondVsa);
    expect((await use.fetch(second)).code).toBe(0);
    expect((await use.fetch(first)).code).toBe(0);
  });

  it('can be pinned by key ID: a summary signed by any other key is refused', async () => {
    expect((await use.fetch(second, ['--vsa-key-id', secondVsa])).code).toBe(0);
    const refused = await use.fetch(second, ['--vsa-key-id', firstVsa]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/is not a pinned summary key/);
  });

  it('can be pinned without the registry (the public key from KMS), or trusted as PEM files', async () => {
    const { VOUCH_KEYS_TABLE: _table, ...withoutRegistry } = gate.env;
    expect((await use.fetch(second, ['--vsa-key-id', secondVsa], withoutRegistry)).code).toBe(0);
    expect((await use.fetch(second, ['--vsa-key-id', firstVsa], withoutRegistry)).code).toBe(1);
    const pem = async (keyId: string) => {
      const file = join(out, `pem-${++n}.pem`);
      writeFileSync(file, (await gate.registry.get(keyId))?.publicKeyPem as string);
      return file;
    };
    expect(
      (await use.fetch(second, ['--key', await pem(firstVsa), '--key', await pem(secondVsa)])).code,
    ).toBe(0);
    expect((await use.fetch(second, ['--key', await pem(firstVsa)])).code).toBe(1);
    // The same key twice is one key.
    const twice = await pem(secondVsa);
    expect((await use.fetch(second, ['--key', twice, '--key', twice])).code).toBe(0);
  });

  it('refuses two ways of trusting at once, and a pin that is not a KMS key ARN, as usage errors', async () => {
    const both = await use.fetch(second, ['--vsa-key-id', secondVsa, '--vsa-key', 'alias/vouch-vsa']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give one of --key, --vsa-key-id/);
    const alias = await use.fetch(second, ['--vsa-key-id', 'alias/vouch-vsa']);
    expect(alias.code).toBe(2);
    expect(alias.stderr).toMatch(/--vsa-key-id alias\/vouch-vsa is not a KMS key ARN/);
  });

  it("refuses a summary signed by a pipeline's signing key, though the registry holds that key", async () => {
    const key = await use.promote();
    // Right in every other respect: the promoter's own summary (these bytes, this object key, PASSED),
    // signed again by the app pipeline's signing key.
    const bucket = gate.stack.names.deploymentBucket;
    const read = await gate.store.readSmall(bucket, vsaKey(key), 64 * 1024 * 1024);
    if ('tooLarge' in read) throw new Error('summary too large');
    const file = JSON.parse(read.content.toString('utf8'));
    const { dsseEnvelope } = await signPayload(
      Buffer.from(file.payload, 'base64'),
      gate.signers.app as NonNullable<typeof gate.signers.app>,
    );
    await gate.store.put(
      bucket,
      vsaKey(key),
      JSON.stringify({ ...file, signatures: dsseEnvelope.signatures }),
    );
    const refused = await use.fetch(key);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/a pipeline's signing key, not a summary key/);
    expect(refused.stdout).not.toMatch(/SUBJECT_MISMATCH/);
  });

  it('warn that trusting an alias trusts whoever moves it, and refuse what it does not name now', async () => {
    const run = await use.fetch(second, ['--vsa-key', 'alias/vouch-vsa']);
    expect(run.stderr).toMatch(/trusting whatever key alias\/vouch-vsa names now; pin summary key IDs/);
    expect(run.code).toBe(1);
  });
});

describe('a summary key revoked', () => {
  let gate: TestGate | undefined;
  afterAll(async () => {
    await gate?.close();
  });
  /** A gate of the case's own: a revocation changes the summary keys for everything after it. */
  async function fresh() {
    await gate?.close();
    gate = await startTestGate();
    return { gate, use: on(gate) };
  }

  it('is refused by deployers for what it signed after the effective time, until the re-check signs it again', async () => {
    const { gate, use } = await fresh();
    const first = await use.promote();
    const revokedKey = await use.rotate();
    const second = await use.promote();
    expect(await use.summarySigner(second)).toBe(revokedKey);
    const read = await use.summary(second);
    // Revoked from a minute before the summary was written (as S3 dates it): that summary no longer counts.
    const effective = new Date(read.version.lastModified.getTime() - 60_000).toISOString();
    const revoked = await use.keys('revoke', revokedKey, '--effective', effective, '--reason', 'exposed');
    expect(revoked.code).toBe(0);
    const refused = await use.fetch(second);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/KEY_REVOKED/);
    // The active summary key was replaced at once; the key table's stream (polled here) re-checks.
    const replacement = (await use.summaryKeys()).find((k) => k.status === 'active')?.keyId as string;
    expect(replacement).not.toBe(revokedKey);
    await gate.keyStream.poll();
    expect(await use.summarySigner(second)).toBe(replacement);
    expect((await gate.records.byKey(second))[0]?.history?.at(-1)?.note).toBe(
      `summary key ${revokedKey} revoked: summary signed again`,
    );
    expect((await use.fetch(second)).code).toBe(0);
    // A summary signed by another key is left as it was, and still verifies.
    const untouched = await use.summary(first);
    expect(await use.summarySigner(first)).not.toBe(revokedKey);
    expect(untouched.version.lastModified.getTime()).toBeLessThan(read.version.lastModified.getTime() + 1);
    expect((await use.fetch(first)).code).toBe(0);
  });

  it('signs nothing while the alias still names it: the re-check fails until the replacement is in place', async () => {
    const { gate, use } = await fresh();
    const key = await use.promote();
    const current = await use.summarySigner(key);
    const before = await use.summary(key);
    // The revocation is in the registry, and its stream delivers it, before the replacement key exists.
    const effective = new Date(before.version.lastModified.getTime() - 60_000);
    expect(await gate.registry.revoke(current, effective, 'exposed', 'test')).toBe('revoked');
    const revocation: DynamoDBStreamEvent = {
      Records: [
        {
          eventSource: 'aws:dynamodb',
          eventName: 'MODIFY',
          dynamodb: { NewImage: { keyId: { S: current }, revokedAt: { S: effective.toISOString() } } },
        },
      ],
    };
    // The one record of the batch fails (the stream will deliver it again), and nothing was written.
    await expect(gate.recheck(revocation)).rejects.toThrow(/All records failed/);
    const after = await use.summary(key);
    expect('content' in after && 'content' in before && after.content.equals(before.content)).toBe(true);
    // The stream retries once the rotation has put the replacement behind the alias.
    await use.rotate();
    const retried = await gate.recheck(revocation);
    expect(retried.batchItemFailures).toHaveLength(0);
    expect(await use.summarySigner(key)).not.toBe(current);
    expect((await use.fetch(key)).code).toBe(0);
  });
});
