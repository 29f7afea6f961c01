import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The throttling error each service answers with, as the AWS SDK expects to parse it. */
const THROTTLE = {
  dynamodb: {
    status: 400,
    contentType: 'application/x-amz-json-1.0',
    body: JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
      message: 'Rate of requests exceeds the allowed throughput.',
    }),
  },
  kms: {
    status: 400,
    contentType: 'application/x-amz-json-1.1',
    body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
  },
  s3: {
    status: 503,
    contentType: 'application/xml',
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
  },
} as const;

export type ProxiedService = keyof typeof THROTTLE;

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

/** One forwarded request, as a meter sees it: its operation, and the bodies when the meter asks for them. */
export interface MeteredRequest {
  readonly operation: string;
  readonly bucket?: string;
  readonly body: Buffer;
}

/**
 * Looks at requests as they pass (the DynamoDB capacity meter, bench/capacity.ts). `before` runs before
 * the request is forwarded and `after` once its response is in; the proxy holds the response until then.
 */
export interface RequestMeter {
  before?(request: MeteredRequest): Promise<unknown>;
  after?(request: MeteredRequest, status: number, response: Buffer, state: unknown): Promise<void>;
}

/**
 * The operation an AWS request performs, named as the API names it: from `X-Amz-Target` for the JSON
 * protocols (DynamoDB, KMS), from the method, the query and the copy header for S3 (path-style).
 */
export function operationOf(service: ProxiedService, incoming: IncomingMessage): MeteredRequest['operation'] {
  if (service !== 's3') {
    const target = String(incoming.headers['x-amz-target'] ?? '');
    return target.slice(target.lastIndexOf('.') + 1) || 'Unknown';
  }
  const url = new URL(incoming.url ?? '/', 'http://proxy');
  const query = url.searchParams;
  const copy = incoming.headers['x-amz-copy-source'] !== undefined;
  const segments = url.pathname.split('/').filter(Boolean);
  const objectLevel = segments.length > 1;
  switch (incoming.method) {
    case 'GET':
      if (!objectLevel) return query.has('uploads') ? 'ListMultipartUploads' : 'ListObjects';
      return query.has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return objectLevel ? 'HeadObject' : 'HeadBucket';
    case 'PUT':
      if (query.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      if (!objectLevel) return 'CreateBucket';
      return copy ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      if (query.has('delete')) return 'DeleteObjects';
      return 'PostObject';
    case 'DELETE':
      if (query.has('uploadId')) return 'AbortMultipartUpload';
      return objectLevel ? 'DeleteObject' : 'DeleteBucket';
    default:
      return incoming.method ?? 'Unknown';
  }
}

const bucketOf = (service: ProxiedService, incoming: IncomingMessage) =>
  service === 's3' ? new URL(incoming.url ?? '/', 'http://proxy').pathname.split('/')[1] : undefined;

/**
 * An HTTP proxy in front of a local S3, DynamoDB or KMS server. It counts every request by operation (and
 * by bucket for S3), can answer a fraction of them with the service's real throttling error, so the
 * SDK's retries, the handler's failure reporting and the queue's redelivery are all exercised for real,
 * and can hand each request to a meter (`options.meter`) that measures what it cost.
 */
export async function startFlakyProxy(
  target: string,
  service: ProxiedService,
  rate: number,
  seed = 1,
  options: { readonly meter?: RequestMeter } = {},
) {
  const random = seeded(seed);
  const stats = { forwarded: 0, throttled: 0, operations: new Map<string, number>() };
  const count = (name: string) => stats.operations.set(name, (stats.operations.get(name) ?? 0) + 1);
  const targetUrl = new URL(target);
  const { meter } = options;
  const server = createServer((incoming, outgoing) => {
    if (rate > 0 && random() < rate) {
      stats.throttled++;
      incoming.resume();
      const throttle = THROTTLE[service];
      outgoing.writeHead(throttle.status, {
        'content-type': throttle.contentType,
        'x-amzn-requestid': `throttled-${stats.throttled}`,
      });
      outgoing.end(throttle.body);
      return;
    }
    stats.forwarded++;
    const operation = operationOf(service, incoming);
    const bucket = bucketOf(service, incoming);
    count(operation);
    if (bucket) count(`${operation} ${bucket}`);
    const forward = (body?: Buffer, onResponse?: (status: number, response: Buffer) => Promise<void>) => {
      const upstream = request(
        {
          hostname: targetUrl.hostname,
          port: targetUrl.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: targetUrl.host },
        },
        (response) => {
          if (!onResponse) {
            outgoing.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(outgoing);
            return;
          }
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const content = Buffer.concat(chunks);
            void onResponse(response.statusCode ?? 502, content)
              .catch(() => undefined)
              .finally(() => {
                outgoing.writeHead(response.statusCode ?? 502, response.headers);
                outgoing.end(content);
              });
          });
        },
      );
      upstream.on('error', () => {
        if (onResponse) void onResponse(0, Buffer.alloc(0)).catch(() => undefined);
        outgoing.destroy();
      });
      if (body) upstream.end(body);
      else incoming.pipe(upstream);
    };
    if (!meter) {
      forward();
      return;
    }
    // Metering needs the whole request (and response) body: buffered, which a proxy for small API calls
    // can afford. S3 object bodies pass through a meter too, so meter S3 only where sizes are small.
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const metered: MeteredRequest = {
        operation,
        ...(bucket ? { bucket } : {}),
        body: Buffer.concat(chunks),
      };
      void (meter.before?.(metered) ?? Promise.resolve(undefined))
        .catch(() => undefined)
        .then((state) =>
          forward(metered.body, async (status, response) => {
            await meter.after?.(metered, status, response, state);
          }),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    /** Clears the counts (after a warm-up). */
    reset() {
      stats.forwarded = 0;
      stats.throttled = 0;
      stats.operations.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type FlakyProxy = Awaited<ReturnType<typeof startFlakyProxy>>;
