import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { ObjectEvent } from '#core/index.ts';
import { createQueueHandler } from '../../../lambdas/verify/handler.ts';
import type { Outcome, Pipeline } from '../../../lambdas/verify/pipeline.ts';
import type { Observability } from '../../../lambdas/verify/wiring.ts';

const silent: Observability = {
  logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined },
};

const message = (id: string, key: string) => ({
  messageId: id,
  body: JSON.stringify({
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        eventTime: '2026-11-26T00:00:00.000Z',
        s3: { bucket: { name: 'staging' }, object: { key, eTag: `etag-${id}`, size: 1 } },
      },
    ],
  }),
});

const batch = (...messages: ReturnType<typeof message>[]) => ({ Records: messages }) as unknown as SQSEvent;
const context = { functionName: 'verifier' } as Context;

/**
 * A pipeline at the edge of the handler: each key's handling waits until the test releases it, and keys
 * starting with `fail` throw, as an infrastructure fault does.
 */
function gatedPipeline() {
  const handled: { key: string; owner: string | undefined }[] = [];
  const waiting = new Map<string, () => void>();
  const pipeline = {
    async handle(event: ObjectEvent, owner?: string): Promise<Outcome> {
      await new Promise<void>((resolve) => waiting.set(event.key, resolve));
      handled.push({ key: event.key, owner });
      if (event.key.startsWith('fail')) throw new Error(`fault on ${event.key}`);
      return { objectKey: event.key, kind: 'artifact', status: 'verified' };
    },
    isAttestation: (event: ObjectEvent) => event.key.endsWith('.sigstore.json'),
    invocation: <T>(fn: () => Promise<T>) => fn(),
  } as unknown as Pipeline;
  const release = async (key: string) => {
    for (let i = 0; i < 100 && !waiting.has(key); i++) await new Promise((r) => setTimeout(r, 1));
    const resolve = waiting.get(key);
    if (!resolve) throw new Error(`${key} never reached the pipeline`);
    waiting.delete(key);
    resolve();
  };
  return { pipeline, handled, release };
}

describe('the queue handler', () => {
  it('keeps overlapping invocations apart: each handles its own records and reports its own failures', async () => {
    const { pipeline, handled, release } = gatedPipeline();
    const handler = createQueueHandler(pipeline, silent);

    const first = handler(batch(message('m1', 'a1'), message('m2', 'fail-a2')), context);
    const second = handler(batch(message('m3', 'b1'), message('m4', 'b2')), context);
    // Interleaved: the second invocation registers its batch while the first is still in flight.
    for (const key of ['b1', 'a1', 'fail-a2', 'b2']) await release(key);

    expect(await first).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(await second).toEqual({ batchItemFailures: [] });
    expect(handled.map(({ key }) => key).sort()).toEqual(['a1', 'b1', 'b2', 'fail-a2']);
  });

  it('handles the attestations of a batch before its artifacts, whatever their order and outcome', async () => {
    const { pipeline, handled, release } = gatedPipeline();
    const handler = createQueueHandler(pipeline, silent);
    const done = handler(
      batch(
        message('m1', 'app.tar.gz'),
        message('m2', 'app.tar.gz.sigstore.json'),
        message('m3', 'fail-tool.tar.gz.sigstore.json'),
      ),
      context,
    );
    // The artifact is released first, but reaches the pipeline only once both attestations were handled.
    const artifact = release('app.tar.gz');
    await release('fail-tool.tar.gz.sigstore.json');
    await release('app.tar.gz.sigstore.json');
    await artifact;
    expect(await done).toEqual({ batchItemFailures: [{ itemIdentifier: 'm3' }] });
    expect(handled.map(({ key }) => key)).toEqual([
      'fail-tool.tar.gz.sigstore.json',
      'app.tar.gz.sigstore.json',
      'app.tar.gz',
    ]);
  });

  it("hands the pipeline each record's message ID, which owns the promotion claim", async () => {
    const { pipeline, handled, release } = gatedPipeline();
    const handler = createQueueHandler(pipeline, silent);
    const done = handler(batch(message('m7', 'x')), context);
    await release('x');
    await done;
    expect(handled).toEqual([{ key: 'x', owner: 'm7' }]);
  });
});
