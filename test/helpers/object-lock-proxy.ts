import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ObservedWrite {
  readonly method: string;
  readonly path: string;
  readonly checksum: boolean;
}

/** Whether a request declares or carries an integrity checksum S3 accepts. */
export function hasChecksum(headers: IncomingHttpHeaders): boolean {
  return Object.keys(headers).some(
    (name) =>
      name === 'content-md5' ||
      name.startsWith('x-amz-checksum-') ||
      name === 'x-amz-sdk-checksum-algorithm' ||
      (name === 'x-amz-trailer' && String(headers[name]).startsWith('x-amz-checksum-')),
  );
}

/**
 * A proxy in front of s3rver that answers, for one bucket, as S3 does for a bucket with Object Lock
 * default retention: an upload (PutObject, UploadPart, a copy) without a checksum is refused with
 * S3's InvalidRequest. Every write to that bucket is recorded with whether it carried one. s3rver keeps
 * no versions, so a copy source's `versionId` is dropped on the way (it names the current version).
 */
export async function startObjectLockProxy(target: string, lockedBucket: string) {
  const targetUrl = new URL(target);
  const writes: ObservedWrite[] = [];
  const server = createServer((incoming, outgoing) => {
    const path = incoming.url ?? '/';
    const isWrite = incoming.method === 'PUT' && path.startsWith(`/${lockedBucket}/`);
    if (isWrite) {
      const checksum = hasChecksum(incoming.headers);
      writes.push({ method: incoming.method ?? '', path, checksum });
      if (!checksum) {
        incoming.resume();
        outgoing.writeHead(400, { 'content-type': 'application/xml' });
        outgoing.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>Content-MD5 OR ' +
            'x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters' +
            '</Message></Error>',
        );
        return;
      }
    }
    const headers: IncomingHttpHeaders = { ...incoming.headers, host: targetUrl.host };
    const copySource = headers['x-amz-copy-source'];
    if (typeof copySource === 'string')
      headers['x-amz-copy-source'] = copySource.replace(/\?versionId=.*$/, '');
    const upstream = request(
      { hostname: targetUrl.hostname, port: targetUrl.port, method: incoming.method, path, headers },
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
    writes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
