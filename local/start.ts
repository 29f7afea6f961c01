// npm start [-- --no-demo] [--data-dir DIR]: the whole pipeline on this machine, the same handler code as in AWS.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { documentClient, kmsClient, s3Client } from '#adapters/clients.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { kmsSigner } from '#adapters/kms.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import {
  createStatement,
  digestStream,
  isAttestationKey,
  SLSA_PROVENANCE_V1,
  signStatement,
} from '#core/index.ts';
import { fetchVerified } from '../bin/commands/fetch.ts';
import { rotate } from '../lambdas/rotate/rotate.ts';
import { createEventQueue } from './queue.ts';
import { encodeEventKey, startLocalStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    'no-demo': { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: '.vouch' },
    policy: { type: 'string', default: 'policies/example.yaml' },
    's3-port': { type: 'string', default: '4568' },
    'dynamodb-port': { type: 'string', default: '4569' },
    'kms-port': { type: 'string', default: '4599' },
  },
});
const dataDir = resolve(values['data-dir']);
mkdirSync(dataDir, { recursive: true });
const stack = await startLocalStack({
  dataDir,
  ports: {
    s3: Number(values['s3-port']),
    dynamodb: Number(values['dynamodb-port']),
    kms: Number(values['kms-port']),
  },
});
const env = {
  ...stack.env(),
  VOUCH_POLICY_PATH: resolve(values.policy),
  VOUCH_VSA_KEY_ID: 'alias/vouch-vsa',
  VOUCH_SIGNING_KEY_ALIAS: 'alias/vouch-signing',
  VOUCH_PENDING_DEADLINE_SECONDS: '3600',
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  POWERTOOLS_METRICS_DISABLED: 'true',
};
// The handlers and the CLI read their endpoints and names from the environment, exactly as in Lambda.
Object.assign(process.env, env);
writeFileSync(
  join(dataDir, 'env'),
  `${Object.entries(env)
    .map(([k, v]) => `export ${k}=${v}`)
    .join('\n')}\n`,
);
console.log(
  `local stack up — S3 ${stack.endpoints.s3}, DynamoDB ${stack.endpoints.dynamodb}, KMS ${stack.endpoints.kms}; data in ${dataDir}`,
);

const kms = kmsClient();
const registry = new KeyRegistry(documentClient(), stack.names.keysTable);
const rotation = await rotate(
  { kms, registry },
  {
    alias: env.VOUCH_SIGNING_KEY_ALIAS,
    keySpec: 'ECC_NIST_P256',
    periodDays: 90,
    graceDays: 7,
    retentionDays: 365,
    deletionWindowDays: 30,
  },
);
console.log(rotation.activated ? `signing key created: ${rotation.activated}` : 'signing key: current');
await ensureVsaKey(kms);

const { handler } = await import('../lambdas/verify/handler.ts');
const queue = createEventQueue({ handler: (event, context) => handler(event, context), maxReceiveCount: 3 });
stack.onStagingNotification((body) => queue.send(body));
await reconcile();

if (values['no-demo']) {
  console.log(
    `\nready. In another shell:\n  source ${join(dataDir, 'env')}\n  npx vouch sign FILE --builder-id https://ci.example/builder\n  npx vouch upload FILE -a FILE.sigstore.json --prefix releases/\n  npx vouch status releases/FILE\n  npx vouch fetch s3://${stack.names.deploymentBucket}/releases/FILE -o FILE.verified\nCtrl-C stops the stack; ${dataDir} keeps its state.`,
  );
  const sweep = setInterval(() => void handler({ action: 'sweep' }, {} as Context), 30_000);
  process.on('SIGINT', () => {
    clearInterval(sweep);
    void queue
      .drain()
      .then(() => stack.close())
      .then(() => process.exit(0));
  });
} else {
  const ok = await demo();
  await queue.drain();
  await stack.close();
  process.exit(ok ? 0 : 1);
}

/**
 * The local queue lives in memory, so an event in flight when the stack stopped is gone. On start, every
 * staging object without a decision, and every attestation (indexing is idempotent), is queued again.
 */
async function reconcile() {
  const s3 = s3Client();
  const records = new RecordStore(documentClient(), stack.names.recordsTable);
  let requeued = 0;
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.names.stagingBucket, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      if (!isAttestationKey(object.Key) && (await records.byKey(object.Key)).length > 0) continue;
      const record = {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: (object.LastModified ?? new Date()).toISOString(),
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: stack.names.stagingBucket },
          object: { key: encodeEventKey(object.Key), size: object.Size, eTag: object.ETag },
        },
      };
      queue.send(JSON.stringify({ Records: [record] }));
      requeued++;
    }
    token = page.NextContinuationToken;
  } while (token);
  await queue.drain();
  if (requeued > 0) console.log(`reconciled ${requeued} staging object(s) left unprocessed or to re-index`);
}

async function ensureVsaKey(client: KMSClient) {
  try {
    await client.send(new GetPublicKeyCommand({ KeyId: env.VOUCH_VSA_KEY_ID }));
  } catch (error) {
    if ((error as Error).name !== 'NotFoundException') throw error;
    const { KeyMetadata } = await client.send(
      new CreateKeyCommand({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description: 'Vouch verification summaries',
        Tags: [{ TagKey: 'vouch:purpose', TagValue: 'vsa' }],
      }),
    );
    await client.send(
      new CreateAliasCommand({ AliasName: env.VOUCH_VSA_KEY_ID, TargetKeyId: KeyMetadata?.KeyId }),
    );
    console.log(`VSA key created: ${KeyMetadata?.Arn}`);
  }
}

async function demo(): Promise<boolean> {
  const store = new S3Store(s3Client());
  const records = new RecordStore(documentClient(), stack.names.recordsTable);
  const run = new Date().toISOString().replace(/[:.]/g, '-');
  const signer = kmsSigner(kms, env.VOUCH_SIGNING_KEY_ALIAS);
  const build = async (name: string, bytes: Buffer) => {
    const { digests } = await digestStream(Readable.from([bytes]));
    const statement = createStatement([{ name, digests }], SLSA_PROVENANCE_V1, {
      buildDefinition: {
        buildType: 'https://vouch.dev/build/demo/v1',
        externalParameters: {},
        resolvedDependencies: [],
      },
      runDetails: { builder: { id: 'https://vouch.dev/demo-builder' } },
    });
    return JSON.stringify(await signStatement(statement, signer));
  };

  console.log(
    '\ndemo: a pipeline signs two builds with KMS and uploads them; one is tampered with after signing',
  );
  const good = { key: `releases/demo-${run}/app.tar.gz`, bytes: randomBytes(64 * 1024) };
  const tampered = { key: `releases/demo-${run}/tool.tar.gz`, bytes: randomBytes(64 * 1024) };
  await store.put(
    stack.names.stagingBucket,
    `${good.key}.sigstore.json`,
    await build('app.tar.gz', good.bytes),
  );
  await store.put(stack.names.stagingBucket, good.key, good.bytes, {}, 'application/gzip');
  await store.put(
    stack.names.stagingBucket,
    `${tampered.key}.sigstore.json`,
    await build('tool.tar.gz', tampered.bytes),
  );
  const altered = Buffer.from(tampered.bytes);
  altered[100] = (altered[100] ?? 0) ^ 0xff;
  await store.put(stack.names.stagingBucket, tampered.key, altered, {}, 'application/gzip');
  await new Promise((r) => setTimeout(r, 50));
  await queue.drain();

  let ok = true;
  for (const { key, expected } of [
    { key: good.key, expected: 'promoted' },
    { key: tampered.key, expected: 'rejected' },
  ]) {
    const [record] = await records.byKey(key);
    const status = record?.status ?? 'missing';
    console.log(`  ${status.toUpperCase().padEnd(9)} ${key}  ${record?.digest ?? ''}`);
    for (const reason of record?.reasons ?? []) console.log(`            ${reason.code}: ${reason.message}`);
    ok &&= status === expected;
  }
  const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: env.VOUCH_VSA_KEY_ID }));
  const { createPublicKey } = await import('node:crypto');
  const output = join(dataDir, 'fetched-app.tar.gz');
  const fetched = await fetchVerified({
    store,
    bucket: stack.names.deploymentBucket,
    key: good.key,
    output,
    vsaPublicKey: createPublicKey({ key: Buffer.from(PublicKey as Uint8Array), format: 'der', type: 'spki' }),
  });
  console.log(
    `  deployer: vouch fetch s3://${stack.names.deploymentBucket}/${good.key} → ${fetched.ok ? `verified ${fetched.digest}, written to ${output}` : 'REFUSED'}`,
  );
  ok &&= fetched.ok && (await store.head(stack.names.deploymentBucket, tampered.key)) === undefined;
  console.log(
    queue.deadLetters.length ? `  dead letters: ${queue.deadLetters.length}` : '  dead letters: none',
  );
  console.log(
    ok
      ? '\ndemo complete: the signed build was promoted, the tampered one rejected with its reason'
      : '\ndemo FAILED',
  );
  return ok && queue.deadLetters.length === 0;
}
