import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStatement,
  parseAttestationFile,
  signStatement,
  VSA_PREDICATE_TYPE,
  vsaKey,
} from '#core/index.ts';
import { startTestGate, type TestGate } from '../helpers/gate.ts';
import { vouch } from '../unit/bin/binary.ts';

/**
 * The verification summary (VSA) keys get the registry's treatment (issue 19, item 14): the stack's
 * first key adopted, rotation, revocation with summaries signed again, and deployers who trust the
 * registry or pin key IDs, never an alias.
 */
let gate: TestGate;
const out = mkdtempSync(join(tmpdir(), 'vouch-summary-keys-'));
let n = 0;

beforeAll(async () => {
  gate = await startTestGate();
}, 60_000);
afterAll(async () => {
  await gate?.close();
});

async function promote(): Promise<string> {
  const key = `releases/summary-${++n}/app.tar.gz`;
  const bytes = randomBytes(2048);
  const staging = gate.stack.names.stagingBucket;
  await gate.store.put(staging, `${key}.sigstore.json`, await gate.provenance('app.tar.gz', bytes));
  await gate.store.put(staging, key, bytes, {}, 'application/gzip');
  await gate.settle();
  expect((await gate.records.byKey(key))[0]?.status).toBe('promoted');
  return key;
}

/** The key that signed the summary beside a promoted artifact. */
async function summarySigner(key: string): Promise<string> {
  const read = await gate.store.readSmall(gate.stack.names.deploymentBucket, vsaKey(key), 1 << 20);
  if ('tooLarge' in read) throw new Error('too large');
  const material = parseAttestationFile(read.content, 'vsa').attestations[0]?.signatures[0]
    ?.verificationMaterial.content;
  return material?.$case === 'publicKey' ? material.publicKey.hint : '';
}

const fetch = (key: string, ...args: string[]) =>
  vouch(['fetch', `s3://${gate.stack.names.deploymentBucket}/${key}`, '-o', join(out, `f-${++n}`), ...args], {
    env: gate.env,
  });
const keys = (...args: string[]) => vouch(['keys', ...args], { env: gate.env });
const summaryKeys = async () => (await gate.registry.list()).filter((k) => k.purpose === 'vsa');

describe('summary (VSA) keys', () => {
  let first: string;
  let firstVsa: string;

  it("start as the stack's first key, adopted: summaries verify against the registry", async () => {
    const [adopted] = await summaryKeys();
    expect(adopted).toMatchObject({ external: true, status: 'active', alias: 'alias/vouch-vsa/rotating' });
    first = await promote();
    firstVsa = adopted?.keyId as string;
    expect(await summarySigner(first)).toBe(firstVsa);
    const run = await fetch(first);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  let second: string;
  let secondVsa: string;

  it('rotate: later summaries are signed by the new key, and earlier ones still verify', async () => {
    const rotated = await keys('rotate', '--vsa', '--force');
    expect(rotated.code).toBe(0);
    secondVsa = /activated (arn:aws:kms:[^\s;]+)/.exec(rotated.stdout)?.[1] as string;
    expect(secondVsa).toMatch(/^arn:aws:kms:/);
    second = await promote();
    expect(await summarySigner(second)).toBe(secondVsa);
    expect((await fetch(second)).code).toBe(0);
    expect((await fetch(first)).code).toBe(0);
  });

  it('can be pinned by key ID: a summary signed by any other key is refused', async () => {
    expect((await fetch(second, '--vsa-key-id', secondVsa)).code).toBe(0);
    const refused = await fetch(second, '--vsa-key-id', firstVsa);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/is not a pinned summary key/);
  });

  it('can be pinned without the registry (the public key from KMS), or trusted as PEM files', async () => {
    const { VOUCH_KEYS_TABLE: _table, ...withoutRegistry } = gate.env;
    const pinnedOnly = (...args: string[]) =>
      vouch(
        [
          'fetch',
          `s3://${gate.stack.names.deploymentBucket}/${second}`,
          '-o',
          join(out, `f-${++n}`),
          ...args,
        ],
        {
          env: withoutRegistry,
        },
      );
    expect((await pinnedOnly('--vsa-key-id', secondVsa)).code).toBe(0);
    expect((await pinnedOnly('--vsa-key-id', firstVsa)).code).toBe(1);
    const pem = async (keyId: string) => {
      const file = join(out, `pem-${++n}.pem`);
      writeFileSync(file, (await gate.registry.get(keyId))?.publicKeyPem as string);
      return file;
    };
    expect((await fetch(second, '--key', await pem(firstVsa), '--key', await pem(secondVsa))).code).toBe(0);
    expect((await fetch(second, '--key', await pem(firstVsa))).code).toBe(1);
  });

  it('refuses two ways of trusting at once, and a pin that is not a KMS key ARN, as usage errors', async () => {
    const both = await fetch(second, '--vsa-key-id', secondVsa, '--vsa-key', 'alias/vouch-vsa');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give one of --key, --vsa-key-id/);
    const alias = await fetch(second, '--vsa-key-id', 'alias/vouch-vsa');
    expect(alias.code).toBe(2);
    expect(alias.stderr).toMatch(/--vsa-key-id alias\/vouch-vsa is not a KMS key ARN/);
  });

  it("refuses a summary signed by a pipeline's signing key, though the registry holds that key", async () => {
    const key = await promote();
    // Right in every other respect: these bytes, this object key, PASSED.
    const [record] = await gate.records.byKey(key);
    const forged = await signStatement(
      createStatement([{ name: key, digests: record?.digests ?? {} }], VSA_PREDICATE_TYPE, {
        verificationResult: 'PASSED',
        resourceUri: `s3://${gate.stack.names.stagingBucket}/${key}`,
      }),
      gate.signers.app as NonNullable<typeof gate.signers.app>,
    );
    await gate.store.put(gate.stack.names.deploymentBucket, vsaKey(key), JSON.stringify(forged));
    const refused = await fetch(key);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/a pipeline's signing key, not a summary key/);
    expect(refused.stdout).not.toMatch(/SUBJECT_MISMATCH/);
  });

  it('warn that trusting an alias trusts whoever moves it, and refuse what it does not name now', async () => {
    const run = await fetch(second, '--vsa-key', 'alias/vouch-vsa');
    expect(run.stderr).toMatch(/trusting whatever key alias\/vouch-vsa names now; pin summary key IDs/);
    expect(run.code).toBe(1);
  });

  it('revoke: deployers refuse what it signed after the effective time, until the re-check signs it again', async () => {
    const read = await gate.store.readSmall(gate.stack.names.deploymentBucket, vsaKey(second), 1 << 20);
    // Revoked from a minute before the summary was written (as S3 dates it): that summary no longer counts.
    const effective = new Date(read.version.lastModified.getTime() - 60_000).toISOString();
    const revoked = await keys(
      'revoke',
      secondVsa,
      '--effective',
      effective,
      '--reason',
      'summary key exposed',
    );
    expect(revoked.code).toBe(0);
    const refused = await fetch(second);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/KEY_REVOKED/);
    // The active summary key was replaced at once; the key table's stream (polled here) re-checks.
    const replacement = (await summaryKeys()).find((k) => k.status === 'active')?.keyId as string;
    expect(replacement).not.toBe(secondVsa);
    await gate.keyStream.poll();
    expect(await summarySigner(second)).toBe(replacement);
    expect((await gate.records.byKey(second))[0]?.history?.at(-1)?.note).toBe(
      `summary key ${secondVsa} revoked: summary signed again`,
    );
    expect((await fetch(second)).code).toBe(0);
    // A summary the revoked key signed before the effective time still verifies.
    expect((await fetch(first)).code).toBe(0);
  });

  it('signs nothing with a revoked summary key still behind the alias: the re-check fails until the replacement is in place', async () => {
    const key = await promote();
    const current = await summarySigner(key);
    const before = await gate.store.readSmall(gate.stack.names.deploymentBucket, vsaKey(key), 1 << 20);
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
    const after = await gate.store.readSmall(gate.stack.names.deploymentBucket, vsaKey(key), 1 << 20);
    expect('content' in after && 'content' in before && after.content.equals(before.content)).toBe(true);
    // The stream retries once the rotation has put the replacement behind the alias.
    expect((await keys('rotate', '--vsa', '--force')).code).toBe(0);
    const retried = await gate.recheck(revocation);
    expect(retried.batchItemFailures).toHaveLength(0);
    expect(await summarySigner(key)).not.toBe(current);
    expect((await fetch(key)).code).toBe(0);
  });
});
