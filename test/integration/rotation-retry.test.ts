import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeyRegistry } from '#adapters/key-registry.ts';
import { getPublicKey } from '#adapters/kms.ts';
import { KEYS_TABLE } from '#adapters/tables.ts';
import type { RotationConfig } from '#core/index.ts';
import { DEFERRED_MESSAGE, type RotationOutcome, runRotation } from '../../lambdas/rotate/invoke.ts';
import { RetriesExhaustedError } from '../../lambdas/rotate/retry.ts';
import { keyPolicyOption } from '../../lambdas/rotate/rotate.ts';
import { type KmsServer, startKmsServer } from '../../local/kms/server.ts';
import { ensureTable } from '../../local/stack.ts';
import { startDynamo, TEST_CREDENTIALS, type TestDynamo } from '../helpers/dynamo.ts';

const config: RotationConfig = {
  alias: 'alias/vouch-signing',
  keySpec: 'ECC_NIST_P256',
  periodDays: 90,
  graceDays: 7,
  retentionDays: 365,
  deletionWindowDays: 30,
};
const keyPolicy = keyPolicyOption({
  alias: config.alias,
  managerArn: 'arn:aws:iam::000000000000:role/Vouch-key-rotation-us-east-1',
  signerArns: ['arn:aws:iam::000000000000:role/Vouch-UploaderRole'],
  readerArns: [],
});
/** The rotation function's timeout in the stack (lib/rotation.ts). */
const FUNCTION_TIMEOUT_MS = 10 * 60_000;

let kmsServer: KmsServer;
let realKms: KMSClient;
let dynamo: TestDynamo;

beforeAll(async () => {
  kmsServer = await startKmsServer();
  realKms = new KMSClient({
    endpoint: kmsServer.endpoint,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
  });
  dynamo = await startDynamo();
});
afterAll(async () => {
  realKms.destroy();
  await kmsServer.close();
  await dynamo.close();
});

/** An error as the SDK raises it for a KMS error response. */
const kmsError = (name: string, status = 400) =>
  Object.assign(new Error(`${name} (injected)`), { name, $metadata: { httpStatusCode: status } });

/**
 * The local KMS client, failing the n-th call (from 1) of a command with what `fault` returns: how AWS
 * answers right after a deployment, while a new role's policy, a key's tags or the key itself are not
 * visible yet.
 */
function flaky(faults: Record<string, (call: number) => Error | undefined>): KMSClient {
  const calls = new Map<string, number>();
  return new Proxy(realKms, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: { constructor: { name: string } }) => {
        const name = command.constructor.name.replace(/Command$/, '');
        const call = (calls.get(name) ?? 0) + 1;
        calls.set(name, call);
        const fault = faults[name]?.(call);
        if (fault) throw fault;
        return target.send(command as never);
      };
    },
  });
}

/** Virtual time: every wait the retries make is recorded and passes instantly. */
function virtualClock() {
  const clock = { now: 0, waits: [] as number[] };
  return {
    clock,
    retry: {
      now: () => clock.now,
      sleep: async (ms: number) => {
        clock.waits.push(ms);
        clock.now += ms;
      },
      random: () => 0.5,
    },
    context: { getRemainingTimeInMillis: () => FUNCTION_TIMEOUT_MS - clock.now },
  };
}

function recordingLogger() {
  const lines: { level: string; message: string; extra?: Record<string, unknown> }[] = [];
  const log = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    lines.push({ level, message, ...(extra ? { extra } : {}) });
  return { lines, logger: { info: log('info'), warn: log('warn'), error: log('error') } };
}

let registry: KeyRegistry;
let table = 0;
beforeEach(async () => {
  // A fresh key registry per case, as after a first deployment.
  const name = `keys-retry-${++table}`;
  await ensureTable(dynamo.client, KEYS_TABLE, name);
  registry = new KeyRegistry(dynamo.doc, name);
});

async function run(kms: KMSClient, event: { source?: string } | null) {
  const { clock, retry, context } = virtualClock();
  const { lines, logger } = recordingLogger();
  const outcome: Promise<RotationOutcome> = runRotation(
    { kms, registry, keyPolicy },
    config,
    event,
    context,
    { logger, retry },
  );
  return { outcome, clock, lines };
}

describe('the first rotation right after a deployment', () => {
  it('creates the first key although permissions and the new key become visible only after a while', async () => {
    const kms = flaky({
      CreateKey: (n) => (n <= 2 ? kmsError('AccessDeniedException') : undefined),
      GetPublicKey: (n) => (n <= 3 ? kmsError('NotFoundException') : undefined),
      CreateAlias: (n) => (n === 1 ? kmsError('AccessDeniedException') : undefined),
    });
    const { outcome, clock, lines } = await run(kms, null);
    const result = await outcome;
    expect(result).toMatchObject({ activated: expect.stringMatching(/^arn:aws:kms:/), reason: 'period' });
    expect((await getPublicKey(realKms, config.alias)).keyArn).toBe(
      (result as { activated: string }).activated,
    );
    // Six waits, each growing (backoff), all within the function's time.
    expect(clock.waits).toHaveLength(6);
    expect(clock.waits).toEqual([750, 1500, 750, 1500, 3000, 750]);
    expect(clock.now).toBeLessThan(FUNCTION_TIMEOUT_MS);
    expect(lines.filter((l) => l.message === 'retrying a rotation step')).toHaveLength(6);
  });

  it('does not fail the deployment when permissions do not arrive in time: it defers and says so', async () => {
    const before = (await realKms.send(new ListKeysCommand({}))).Keys?.length;
    const kms = flaky({ CreateKey: () => kmsError('AccessDeniedException') });
    const { outcome, clock, lines } = await run(kms, null);
    const result = await outcome;
    expect(result).toEqual({ deferred: expect.stringMatching(/AccessDeniedException \(injected\)/) });
    // It kept trying for the whole budget, with waits capped at 30 s, and stopped before the timeout.
    expect(clock.now).toBeGreaterThan(FUNCTION_TIMEOUT_MS - 2 * 60_000);
    expect(clock.now).toBeLessThan(FUNCTION_TIMEOUT_MS);
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(30_000);
    expect(lines.find((l) => l.level === 'error')?.message).toBe(DEFERRED_MESSAGE);
    expect((await realKms.send(new ListKeysCommand({}))).Keys?.length).toBe(before);
    expect(await registry.list()).toEqual([]);
  });

  it('defers a CreateKey that timed out instead of retrying it (a second key could be created)', async () => {
    const kms = flaky({ CreateKey: (n) => (n === 1 ? kmsError('TimeoutError', 500) : undefined) });
    const { outcome, clock } = await run(kms, null);
    expect(await outcome).toEqual({ deferred: expect.stringContaining('TimeoutError') });
    expect(clock.waits).toEqual([]);
  });

  it('fails a scheduled run that cannot finish, so the alarm and the scheduler’s retries take over', async () => {
    const kms = flaky({ CreateKey: () => kmsError('AccessDeniedException') });
    const { outcome } = await run(kms, { source: 'schedule' });
    await expect(outcome).rejects.toBeInstanceOf(RetriesExhaustedError);
  });

  it.each([
    ['after a deployment', null],
    ['on schedule', { source: 'schedule' }],
  ])('fails at once %s on an error that waiting will not fix', async (_when, event) => {
    const kms = flaky({ CreateKey: () => kmsError('ValidationException') });
    const { outcome, clock } = await run(kms, event);
    await expect(outcome).rejects.toThrow(/ValidationException \(injected\)/);
    expect(clock.waits).toEqual([]);
  });
});
