import { afterEach, describe, expect, it } from 'vitest';
import { startFlakyProxy } from '../helpers/flaky-proxy.ts';
import {
  type Build,
  builds,
  countPromotions,
  fetchAsDeployer,
  freePort,
  recordsOf,
  startTestGate,
  statusOf,
  type TestGate,
  upload,
} from '../helpers/gate.ts';

// Faults on the real local stack (s3rver, dynalite, the local KMS server) behind the same handler and
// queue semantics as in AWS. After each: every upload is in a terminal state, each promotion happened
// exactly once, nothing was lost.

const open: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

async function gateFor(options: Parameters<typeof startTestGate>[0] = {}) {
  const gate = await startTestGate(options);
  open.push(() => gate.close());
  return gate;
}

/**
 * Promoted once: recorded promoted, copied into the deployment bucket exactly once, and accepted by the
 * deployer's own check (`vouch fetch`: the build's bytes under a VSA by the gate's key that names them).
 */
async function expectAllPromotedOnce(gate: TestGate, all: readonly Build[], promotions: Map<string, number>) {
  for (const build of all) {
    expect(await statusOf(gate, build), build.key).toBe('promoted');
    expect(promotions.get(build.key) ?? 0, `${build.key} copied into deployment`).toBe(1);
    const fetched = await fetchAsDeployer(gate, build);
    expect(
      fetched.ok,
      `${build.key}: ${JSON.stringify([...fetched.decision.reasons, ...fetched.problems])}`,
    ).toBe(true);
    expect(fetched.verificationResult).toBe('PASSED');
  }
}

/** A seeded shuffle, so a failure reproduces. */
function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('at-least-once, any-order delivery', () => {
  it('promotes each artifact exactly once when every event arrives twice and out of order', async () => {
    const promotions = new Map<string, number>();
    const gate = await gateFor({ delivery: 'manual', wrapDeps: countPromotions(promotions), concurrency: 4 });
    const all = builds(12, 'dup');
    for (const build of all) await upload(gate, build);
    const events = gate.notifications.splice(0);
    expect(events).toHaveLength(24);
    // Artifacts before their attestations, each event twice, batches running concurrently.
    for (const body of shuffled([...events, ...events])) gate.queue.send(body);
    await gate.settle();
    await expectAllPromotedOnce(gate, all, promotions);
    for (const build of all) expect(await recordsOf(gate, build)).toHaveLength(1);
    expect(gate.queue.deadLetters).toEqual([]);
  });
});

describe('a verifier killed mid-way', () => {
  it('between recording (verified) and promotion: the redelivery promotes, once', async () => {
    const promotions = new Map<string, number>();
    const killed = new Set<string>();
    const gate = await gateFor({
      wrapDeps: (deps) => {
        countPromotions(promotions)(deps);
        const transition = deps.records.transition.bind(deps.records);
        return {
          ...deps,
          // The first VSA signature naming each artifact "crashes": its record already says verified.
          vsaSigner: async (message) => {
            const payload = message.toString('utf8').replace(/^DSSEv1 \d+ \S+ \d+ /, '');
            const keys: string[] = JSON.parse(payload).subject.map((s: { name: string }) => s.name);
            if (keys.some((key) => !killed.has(key))) {
              for (const key of keys) killed.add(key);
              throw new Error(`killed before promoting ${keys.join(', ')}`);
            }
            return deps.vsaSigner(message);
          },
          records: Object.assign(Object.create(deps.records), { transition }),
        };
      },
    });
    const all = builds(5, 'kill-before');
    for (const build of all) await upload(gate, build);
    await gate.settle();
    expect(killed.size).toBe(5);
    await expectAllPromotedOnce(gate, all, promotions);
    expect(gate.queue.stats.retried).toBeGreaterThanOrEqual(5);
    expect(gate.queue.deadLetters).toEqual([]);
  });

  it('between promotion and recording: the redelivery records it without copying again', async () => {
    const promotions = new Map<string, number>();
    const crashed = new Set<string>();
    const gate = await gateFor({
      wrapDeps: (deps) => {
        countPromotions(promotions)(deps);
        const records = deps.records;
        const transition = records.transition.bind(records);
        records.transition = async (objectKey, version, to, patch, note) => {
          if (to === 'promoted' && !crashed.has(objectKey)) {
            crashed.add(objectKey);
            throw new Error(`killed after copying ${objectKey}, before recording it`);
          }
          return transition(objectKey, version, to, patch, note);
        };
        return deps;
      },
    });
    const all = builds(5, 'kill-after');
    for (const build of all) await upload(gate, build);
    await gate.settle();
    expect(crashed.size).toBe(5);
    await expectAllPromotedOnce(gate, all, promotions);
    expect(gate.queue.deadLetters).toEqual([]);
  });

  it('with retries exhausted after recording: the scheduled sweep finishes the promotion', async () => {
    const promotions = new Map<string, number>();
    let offsetMs = 0;
    let failing = true;
    const gate = await gateFor({
      maxReceiveCount: 1,
      wrapDeps: (deps) => {
        countPromotions(promotions)(deps);
        return {
          ...deps,
          now: () => new Date(Date.now() + offsetMs),
          vsaSigner: async (message) => {
            if (failing) throw new Error('KMS unavailable');
            return deps.vsaSigner(message);
          },
        };
      },
    });
    const [build] = builds(1, 'sweep') as [Build];
    await upload(gate, build);
    await gate.settle();
    expect(gate.queue.deadLetters).toHaveLength(1);
    expect(await statusOf(gate, build)).toBe('verified');

    failing = false;
    await gate.sweep();
    expect(await statusOf(gate, build), 'too recent to be abandoned').toBe('verified');
    offsetMs = 16 * 60 * 1000;
    await gate.sweep();
    await expectAllPromotedOnce(gate, [build], promotions);
  });
});

describe('a verifier killed hard (its promotion claim left behind)', () => {
  /** A gate whose first promotion dies without giving its claim back, as a killed process would. */
  async function killedOnce(options: Parameters<typeof startTestGate>[0]) {
    const promotions = new Map<string, number>();
    const state = { offsetMs: 0, crashed: false };
    const gate = await gateFor({
      ...options,
      wrapDeps: (deps) => {
        countPromotions(promotions)(deps);
        deps.records.releasePromotion = async () => false;
        return {
          ...deps,
          now: () => new Date(Date.now() + state.offsetMs),
          vsaSigner: async (message) => {
            if (!state.crashed) {
              state.crashed = true;
              throw new Error('killed while promoting');
            }
            return deps.vsaSigner(message);
          },
        };
      },
    });
    return { gate, promotions, state };
  }

  it('lets the redelivery of the same message take its claim back and promote once', async () => {
    const { gate, promotions, state } = await killedOnce({});
    const [build] = builds(1, 'hard-kill-redelivered') as [Build];
    await upload(gate, build);
    await gate.settle();
    expect(state.crashed).toBe(true);
    await expectAllPromotedOnce(gate, [build], promotions);
  });

  it('holds back a duplicate event (another message) until the claim lapses, then the sweep promotes once', async () => {
    const { gate, promotions, state } = await killedOnce({ maxReceiveCount: 1, delivery: 'manual' });
    const [build] = builds(1, 'hard-kill') as [Build];
    await upload(gate, build);
    const events = gate.notifications.splice(0);
    for (const body of events) gate.queue.send(body);
    await gate.queue.drain();
    expect(state.crashed).toBe(true);
    // The same notifications again: S3 delivers at least once, so a duplicate is another message.
    for (const body of events) gate.queue.send(body);
    await gate.queue.drain();
    expect(await statusOf(gate, build)).toBe('verified');
    expect(promotions.get(build.key)).toBeUndefined();
    state.offsetMs = 16 * 60 * 1000;
    await gate.sweep();
    await expectAllPromotedOnce(gate, [build], promotions);
  });
});

describe('poison messages', () => {
  it('end in the dead-letter queue with their error, without holding back the rest of the batch', async () => {
    const gate = await gateFor({ maxReceiveCount: 3, delivery: 'manual' });
    const [build] = builds(1, 'poison') as [Build];
    await upload(gate, build);
    gate.queue.send('this is not an S3 notification');
    gate.queue.send(JSON.stringify({ Records: [{ eventSource: 'aws:s3', s3: {} }] }));
    for (const body of gate.notifications.splice(0)) gate.queue.send(body);
    await gate.settle();
    expect(await statusOf(gate, build)).toBe('promoted');
    expect(gate.queue.deadLetters.map((letter) => [letter.body.slice(0, 20), letter.attempts])).toEqual([
      ['this is not an S3 no', 3],
      ['{"Records":[{"eventS', 3],
    ]);
    for (const letter of gate.queue.deadLetters)
      expect(letter.lastError).toMatch(/batch item failure|All records failed/);
  });
});

describe('a restart of the local servers mid-run', () => {
  it('loses nothing: the promotion it cut off and the events it stranded end promoted once after it', async () => {
    const ports = { s3: await freePort(), dynamodb: await freePort(), kms: await freePort() };
    const promotions = new Map<string, number>();
    const stop = { servers: async () => {}, promotionsStarted: 0 };
    /** What the stop cut off: the promotion under way, and how many builds had been copied by then. */
    const cut = { key: '', copiedBefore: -1 };
    const first = await startTestGate({
      ports,
      delivery: 'manual',
      maxReceiveCount: 2,
      wrapDeps: (deps) => {
        const counted = countPromotions(promotions)(deps);
        // The fourth promotion stops every server under it, after its claim and before its copy (locally
        // the unversioned path: a streamed copy): it and everything still queued behind it fail against
        // servers that are gone.
        const s3 = counted.s3;
        const stream = s3.streamVerified.bind(s3);
        s3.streamVerified = async (...args: Parameters<typeof stream>) => {
          if (++stop.promotionsStarted === 4) {
            cut.key = args[2];
            cut.copiedBefore = [...promotions.values()].reduce((a, b) => a + b, 0);
            await stop.servers();
          }
          return stream(...args);
        };
        return counted;
      },
    });
    stop.servers = () => first.stack.close();
    const all = builds(10, 'restart');
    for (const build of all) await upload(first, build);
    for (const body of first.notifications.splice(0)) first.queue.send(body);
    await first.queue.drain();
    // It did interrupt work: a promotion was under way, fewer than all builds were copied, and the
    // messages in flight failed against the stopped servers.
    expect(cut.key).toMatch(/^releases\/restart\//);
    expect(promotions.get(cut.key)).toBeUndefined();
    expect(cut.copiedBefore).toBeLessThan(all.length);
    expect(first.queue.deadLetters.length).toBeGreaterThan(0);

    let offsetMs = 0;
    const second = await startTestGate({
      ports,
      dataDir: first.dataDir,
      wrapDeps: (deps) => ({
        ...countPromotions(promotions)(deps),
        now: () => new Date(Date.now() + offsetMs),
      }),
    });
    open.push(() => second.close());
    // What npm start does on every start: queue again whatever has no final decision.
    expect(await second.reconcile()).toBeGreaterThan(0);
    await second.settle();
    // The promotion cut off by the outage still holds its claim (it could not give it back): the sweep
    // finishes it once the claim lapses.
    offsetMs = 16 * 60 * 1000;
    await second.sweep();
    await expectAllPromotedOnce(second, all, promotions);
    const interrupted = all.find((build) => build.key === cut.key) as Build;
    expect((await recordsOf(second, interrupted))[0]?.history.map((h) => h.status)).toEqual([
      'verified',
      'promoted',
    ]);
    expect(second.queue.deadLetters).toEqual([]);
  });
});

describe('throttling', () => {
  it('from DynamoDB and KMS is retried until every upload is promoted, once', async () => {
    const proxies: Awaited<ReturnType<typeof startFlakyProxy>>[] = [];
    const promotions = new Map<string, number>();
    const gate = await gateFor({
      maxReceiveCount: 20,
      concurrency: 2,
      wrapDeps: countPromotions(promotions),
      endpointFor: async (service, endpoint) => {
        if (service === 's3') return endpoint;
        // Seeded so that the first throttle comes early: KMS sees only a handful of calls (the key's
        // description, a summary's signature), and with seed 11 (first throttle at the 7th) a run with
        // fewer calls saw none.
        const proxy = await startFlakyProxy(endpoint, service, 0.3, service === 'kms' ? 1 : 5);
        proxies.push(proxy);
        open.push(() => proxy.close());
        return proxy.url;
      },
    });
    const all = builds(10, 'throttle');
    for (const build of all) await upload(gate, build);
    await gate.settle();
    await expectAllPromotedOnce(gate, all, promotions);
    expect(gate.queue.deadLetters).toEqual([]);
    for (const proxy of proxies) expect(proxy.stats.throttled).toBeGreaterThan(0);
  });
});
