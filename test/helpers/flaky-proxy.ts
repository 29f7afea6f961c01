import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The throttling error each JSON-protocol service answers with, as the AWS SDK expects to parse it. */
const THROTTLE = {
  dynamodb: {
    contentType: 'application/x-amz-json-1.0',
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
      message: 'Rate of requests exceeds the allowed throughput.',
    },
  },
  kms: {
    contentType: 'application/x-amz-json-1.1',
    body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
  },
} as const;

/** A small seeded PRNG (mulberry32): the same seed throttles the same requests on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An HTTP proxy in front of a local DynamoDB or KMS server that answers a fraction of requests with the
 * service's real throttling error, so the SDK's retries, the handler's failure reporting and the queue's
 * redelivery are all exercised for real.
 */
export async function startFlakyProxy(
  target: string,
  service: keyof typeof THROTTLE,
  rate: number,
  seed = 1,
) {
  const random = seeded(seed);
  const stats = { forwarded: 0, throttled: 0 };
  const targetUrl = new URL(target);
  const server = createServer((incoming, outgoing) => {
    if (random() < rate) {
      stats.throttled++;
      incoming.resume();
      const { contentType, body } = THROTTLE[service];
      outgoing.writeHead(400, {
        'content-type': contentType,
        'x-amzn-requestid': `throttled-${stats.throttled}`,
      });
      outgoing.end(JSON.stringify(body));
      return;
    }
    stats.forwarded++;
    const upstream = request(
      {
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: targetUrl.host },
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
