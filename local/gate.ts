// Over ~300 lines on purpose: the one wiring of the local stack (servers, keys, the three verifier
// entry points, the queue, reconciliation) that npm start, the tests, the load script and the benches share.
import { Readable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import type { KMSClient } from '@aws-sdk/client-kms';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { awsClients, type ClientOverrides, documentClient, kmsClient, s3Client } from '#adapters/clients.ts';
import { fileEventPublisher } from '#adapters/events.ts';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { kmsSigner } from '#adapters/kms.ts';
import { RecordStore } from '#adapters/records.ts';
import { S3Store } from '#adapters/s3-store.ts';
import {
  createStatement,
  DEFAULT_PENDING_DEADLINE_SECONDS,
  DEFAULT_ROTATION,
  DEFAULT_SIGNING_KEY_ALIAS,
  DEFAULT_VERIFIER_BATCH_SIZE,
  DEFAULT_VSA_KEY_ALIAS,
  DEFAULT_VSA_SIGNING_ALIAS,
  digestStream,
  isAttestationKey,
  KEY_PURPOSES,
  KEY_TAGS,
  pipelineAlias,
  type SignFn,
  SLSA_PROVENANCE_V1,
  signStatement,
  slsaProvenance,
} from '#core/index.ts';
import {
  type PipelineDefinition,
  readRotationConfig,
  rotationEnvironment,
} from '../lambdas/rotate/config.ts';
import { keyPolicyOption, type RotationResult, rotate } from '../lambdas/rotate/rotate.ts';
import { type VerifierConfig, verifierEnvironment } from '../lambdas/verify/config.ts';
import { createQueueHandler } from '../lambdas/verify/handler.ts';
import type { PipelineDeps } from '../lambdas/verify/pipeline.ts';
import { createSweepHandler } from '../lambdas/verify/schedule.ts';
import { createStreamHandler } from '../lambdas/verify/stream.ts';
import { type Observability, pipelineDeps, verifierFor } from '../lambdas/verify/wiring.ts';
import { createKeyStreamPoller } from './key-stream.ts';
import { ensureAliasedKey, ensurePolicyKey, POLICY_KEY_ALIAS } from './keys.ts';
import { createEventQueue } from './queue.ts';
import {
  encodeEventKey,
  LOCAL_CREDENTIALS,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from './stack.ts';
import { startLocalStackProcess } from './stack-process.ts';

const FINAL = new Set(['promoted', 'rejected', 'quarantined']);

const LOCAL_ROLE = (name: string) => `arn:aws:iam::000000000000:role/vouch-local-${name}`;
/**
 * The local stack's two pipelines: `app` owns `releases/` and `builds/` (what the example policy
 * guards), `tools` owns `tools/`. Each signs through its own alias with its own rotating key.
 */
export const LOCAL_PIPELINES: readonly PipelineDefinition[] = [
  {
    name: 'app',
    alias: pipelineAlias('app'),
    prefixes: ['releases/', 'builds/'],
    signers: [LOCAL_ROLE('uploader-app')],
  },
  {
    name: 'tools',
    alias: pipelineAlias('tools'),
    prefixes: ['tools/'],
    signers: [LOCAL_ROLE('uploader-tools')],
  },
];
/** The alias `vouch sign` uses by default here: the `app` pipeline's. */
export const SIGNING_KEY_ALIAS = pipelineAlias('app');
export const VSA_KEY_ALIAS = DEFAULT_VSA_KEY_ALIAS;
export const VSA_SIGNING_ALIAS = DEFAULT_VSA_SIGNING_ALIAS;
export const DEMO_BUILDER_ID = 'https://vouch.dev/demo-builder';
export const DEMO_SOURCE = 'https://github.com/vouch-dev/demo';
/** The roles a deployed stack would name in its keys' policies, in the local stack's account. */
export const LOCAL_KEY_POLICY = {
  alias: DEFAULT_SIGNING_KEY_ALIAS,
  managerArn: LOCAL_ROLE('rotation'),
  signerArns: [LOCAL_ROLE('uploader')],
  readerArns: [LOCAL_ROLE('verifier')],
};

export type Service = 's3' | 'dynamodb' | 'kms';

export interface LocalGateOptions extends LocalStackOptions {
  /** The policy the verifier enforces. */
  readonly policyPath: string;
  /** @default 3 */
  readonly maxReceiveCount?: number;
  /** @default 100 */
  readonly retryDelayMs?: number;
  /** Batches verified at once, as concurrent Lambda invocations. @default 1 */
  readonly concurrency?: number;
  /** Messages per batch, as the SQS event source's batch size. @default DEFAULT_VERIFIER_BATCH_SIZE */
  readonly batchSize?: number;
  /** As the SQS event source's maximum batching window. @default 0 (batches of whatever is ready) */
  readonly batchingWindowMs?: number;
  /** @default 3600 */
  readonly pendingDeadlineSeconds?: number;
  /** Lets a test put something (a fault-injecting proxy) between the handler and a server. */
  readonly endpointFor?: (service: Service, endpoint: string) => string | Promise<string>;
  /**
   * `manual` keeps staging notifications in `notifications` instead of queueing them, so a test can
   * duplicate, drop or reorder them before `queue.send`. @default 'auto'
   */
  readonly delivery?: 'auto' | 'manual';
  /** Run the servers in a child process (their own core), as S3, DynamoDB and KMS are other machines. */
  readonly separateProcess?: boolean;
  /**
   * Where the handlers log and count. @default warnings and errors only (POWERTOOLS_LOG_LEVEL), no
   * metrics: a console, not CloudWatch.
   */
  readonly observe?: Observability;
  /** Lets a test wrap the handler's dependencies (to crash at a chosen point, count calls, move the clock). */
  readonly wrapDeps?: (deps: PipelineDeps) => PipelineDeps;
  /** Decision events go to this JSON Lines file (and to `printEvent`); none without it. */
  readonly eventsFile?: string;
  readonly printEvent?: (line: string) => void;
  /** How long the verifier reuses a look at the policy store. @default 5 */
  readonly policyCacheSeconds?: number;
  /** Set on each of the handler's AWS clients (tests: SDK retries milliseconds apart, not 100–500 ms). */
  readonly clientOverrides?: () => ClientOverrides;
}

/**
 * The whole gate on this machine: the local stack, the first signing key (made by the same rotation code
 * the scheduled Lambda runs), the VSA key, and the verifier handler behind the in-process queue, with the
 * local stand-ins for the scheduled sweep and the key registry's stream. `npm start`, the fault tests,
 * the load script and the benchmarks all run this, so they exercise exactly one wiring.
 */
export async function startLocalGate(options: LocalGateOptions) {
  const stack = options.separateProcess
    ? await startLocalStackProcess(options)
    : await startLocalStack(options);
  const stackEnv = stack.env();
  const endpoint = async (service: Service, variable: string) =>
    options.endpointFor
      ? options.endpointFor(service, stackEnv[variable] as string)
      : (stackEnv[variable] as string);
  const config: VerifierConfig = {
    stagingBucket: stack.names.stagingBucket,
    deploymentBucket: stack.names.deploymentBucket,
    tables: { records: stack.names.recordsTable, index: stack.names.indexTable, keys: stack.names.keysTable },
    vsaKeyId: VSA_KEY_ALIAS,
    vsaSigningAlias: VSA_SIGNING_ALIAS,
    pipelines: LOCAL_PIPELINES.map(({ name, alias, prefixes }) => ({ name, alias, prefixes })),
    policyPath: options.policyPath,
    pendingDeadlineSeconds: options.pendingDeadlineSeconds ?? DEFAULT_PENDING_DEADLINE_SECONDS,
    // Signed policies from the policy bucket (the bundled file while it is empty), as in AWS.
    policyStore: {
      bucket: stack.names.policyBucket,
      keyId: POLICY_KEY_ALIAS,
      cacheSeconds: options.policyCacheSeconds ?? 5,
    },
  };
  // The rotation function's configuration, as the stack would set it: `vouch keys` reads it from `.vouch/env`.
  const rotation = rotationEnvironment({
    keysTable: stack.names.keysTable,
    rotation: DEFAULT_ROTATION,
    managerArn: LOCAL_KEY_POLICY.managerArn,
    readerArns: LOCAL_KEY_POLICY.readerArns,
    pipelines: LOCAL_PIPELINES,
    vsa: { alias: VSA_SIGNING_ALIAS, signerArns: LOCAL_KEY_POLICY.readerArns, keyId: VSA_KEY_ALIAS },
  });
  // The verifier's environment, as its Lambda functions get it (and as `.vouch/env` gives it to the CLI).
  // It is passed to what needs it; nothing here writes into process.env.
  const env: Record<string, string> = {
    ...stackEnv,
    ...verifierEnvironment(config),
    ...rotation,
    AWS_ENDPOINT_URL_S3: await endpoint('s3', 'AWS_ENDPOINT_URL_S3'),
    AWS_ENDPOINT_URL_DYNAMODB: await endpoint('dynamodb', 'AWS_ENDPOINT_URL_DYNAMODB'),
    AWS_ENDPOINT_URL_KMS: await endpoint('kms', 'AWS_ENDPOINT_URL_KMS'),
    VOUCH_SIGNING_KEY_ALIAS: SIGNING_KEY_ALIAS,
  };

  // Set-up and inspection talk to the servers directly (explicit endpoints: the SDK would read the
  // environment at request time); only the handler goes through `endpointFor`.
  const direct = directClients(stack);
  const kms = direct.kms;
  const registry = new KeyRegistry(direct.documents, stack.names.keysTable);
  // The stack's first VSA key, then every line's keys, by the same code the rotation function runs.
  const vsaKeyCreated = await ensureVsaKey(kms);
  const rotated: Record<string, RotationResult> = {};
  for (const line of readRotationConfig(rotation).lines) {
    rotated[line.id] = await rotate(
      {
        kms,
        registry,
        createdBy: LOCAL_KEY_POLICY.managerArn,
        ...(line.keyPolicy ? { keyPolicy: keyPolicyOption(line.keyPolicy) } : {}),
      },
      line.rotation,
      line.adopt ? { adopt: line.adopt } : {},
    );
  }
  await ensurePolicyKey(kms);

  // The verifier's three functions (queue, key stream, schedule) on one pipeline, with this stack's clients.
  const observe = options.observe ?? quiet();
  const built = pipelineDeps(config, awsClients(env, options.clientOverrides), env, observe);
  const deps: PipelineDeps = options.eventsFile
    ? {
        ...built,
        events: {
          publish: fileEventPublisher(options.eventsFile, options.printEvent),
          failed: (error) => observe.logger.error('decision events not written', { error: error as Error }),
        },
      }
    : built;
  const { pipeline, prepare } = verifierFor(options.wrapDeps ? options.wrapDeps(deps) : deps, observe);
  const context = { functionName: 'vouch-verifier-local' } as Context;
  const handlers = {
    queue: createQueueHandler(pipeline, observe, prepare),
    stream: createStreamHandler(pipeline, observe, prepare),
    sweep: createSweepHandler(pipeline, observe, prepare),
  };
  const queue = createEventQueue({
    handler: (event) => handlers.queue(event, context),
    maxReceiveCount: options.maxReceiveCount ?? 3,
    retryDelayMs: options.retryDelayMs ?? 100,
    concurrency: options.concurrency ?? 1,
    batchSize: options.batchSize ?? DEFAULT_VERIFIER_BATCH_SIZE,
    ...(options.batchingWindowMs ? { batchingWindowMs: options.batchingWindowMs } : {}),
  });
  const notifications: string[] = [];
  const counters = { notified: 0 };
  const unsubscribe = stack.onStagingNotification((body) => {
    counters.notified++;
    if (options.delivery === 'manual') notifications.push(body);
    else queue.send(body);
  });
  const keyStream = createKeyStreamPoller(registry, (event) => handlers.stream(event, context));
  const store = new S3Store(direct.s3);
  const records = new RecordStore(direct.documents, stack.names.recordsTable);
  const signer = kmsSigner(kms, SIGNING_KEY_ALIAS);
  /** Each pipeline's signer, through its own alias, as `vouch sign --key <alias>` does. */
  const signers = Object.fromEntries(LOCAL_PIPELINES.map((p) => [p.name, kmsSigner(kms, p.alias)]));

  return {
    stack,
    env,
    queue,
    /** Notifications held back in `manual` delivery. */
    notifications,
    /** How many staging notifications the stack has emitted. */
    counters,
    /** The revocation re-check, as the key registry's stream invokes it. */
    recheck: (event: DynamoDBStreamEvent) => handlers.stream(event, context),
    registry,
    records,
    store,
    kms,
    signer,
    signers,
    keyStream,
    /** The keys this start created, by line (`pipeline:app`, `pipeline:tools`, `vsa`). */
    createdKeys: Object.fromEntries(
      Object.entries(rotated).flatMap(([line, result]) =>
        result.activated ? [[line, result.activated]] : [],
      ),
    ),
    /** The rotation environment `vouch keys` reads here (the pipelines, the VSA line, the key policies). */
    rotationEnv: rotation,
    vsaKeyCreated,
    /**
     * Resolves once the queue is drained. In this process s3rver emits an object's event before it
     * answers the PUT, so every upload already answered is queued; servers in a child process send their
     * events over IPC, later than the response, so there it also waits until none has arrived for `quietMs`.
     */
    async settle(quietMs = 50) {
      for (;;) {
        const before = counters.notified;
        if (options.separateProcess) await new Promise((resolve) => setTimeout(resolve, quietMs));
        await queue.drain();
        if (counters.notified === before) return;
      }
    },
    /** The scheduled sweep: expired pending artifacts, abandoned promotions. */
    sweep: () => handlers.sweep(),
    /** SLSA provenance v1 for these bytes, signed through the signing alias as `vouch sign` does. */
    provenance: (name: string, bytes: Buffer, signWith: SignFn = signer) =>
      provenanceFor(name, bytes, signWith),
    /** Queues again every staging object without a final decision, and every attestation; see reconcile(). */
    reconcile: () => reconcile(stack, store, records, (body) => queue.send(body)),
    async close() {
      await queue.drain();
      unsubscribe();
      for (const client of Object.values(direct)) client.destroy();
      await stack.close();
    },
  };
}

export type LocalGate = Awaited<ReturnType<typeof startLocalGate>>;

/** Warnings and errors only, and no metrics: the local stack is a console, not CloudWatch. */
export function quiet(): Observability {
  const logLevel = (process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN') as 'WARN';
  return {
    logger: new Logger({ serviceName: 'vouch-verifier-local', logLevel }),
    metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined },
  };
}

/** Clients for set-up and inspection, aimed at the servers outright (never through `endpointFor`). */
function directClients(stack: LocalStack) {
  const common = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  return {
    kms: kmsClient({ ...common, endpoint: stack.endpoints.kms }),
    documents: documentClient({ ...common, endpoint: stack.endpoints.dynamodb }),
    s3: s3Client({}, { ...common, endpoint: stack.endpoints.s3 }),
  };
}

async function provenanceFor(name: string, bytes: Buffer, sign: SignFn): Promise<string> {
  const { digests } = await digestStream(Readable.from([bytes]));
  const statement = createStatement(
    [{ name, digests }],
    SLSA_PROVENANCE_V1,
    slsaProvenance({ builderId: DEMO_BUILDER_ID, sourceUri: DEMO_SOURCE }),
  );
  return JSON.stringify(await signStatement(statement, sign));
}

/**
 * The local queue lives in memory, so an event in flight when the stack stopped is gone. On start, every
 * staging object without a final decision, and every attestation (indexing is idempotent), is queued again.
 */
async function reconcile(
  stack: LocalStack,
  store: S3Store,
  records: RecordStore,
  send: (body: string) => void,
): Promise<number> {
  const s3 = store.client;
  let requeued = 0;
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.names.stagingBucket, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      // Attestations are always re-indexed (idempotent); an artifact is queued again unless its latest
      // record is final (a pending or verified one is carried forward by the redelivery).
      const [latest] = isAttestationKey(object.Key) ? [] : await records.byKey(object.Key);
      if (latest && FINAL.has(latest.status)) continue;
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
      send(JSON.stringify({ Records: [record] }));
      requeued++;
    }
    token = page.NextContinuationToken;
  } while (token);
  return requeued;
}

/** The stack's first VSA key, tagged as the stack tags it: the rotation function adopts it into the rotating line. */
const ensureVsaKey = (client: KMSClient) =>
  ensureAliasedKey(client, VSA_KEY_ALIAS, 'Vouch verification summaries', {
    [KEY_TAGS.purpose]: KEY_PURPOSES.vsa,
    [KEY_TAGS.alias]: VSA_SIGNING_ALIAS,
  });
