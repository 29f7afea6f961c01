import { Readable } from 'node:stream';
import type { S3Store } from '#adapters/s3-store.ts';

/**
 * Counts, per object key, the bytes pulled from every object body `store` opens from now on: what its
 * reader consumed, plus at most the one chunk the counting stream reads ahead. A body destroyed unread
 * counts 0, which is how a test proves that an oversized upload was refused without being read.
 */
export function countBytesRead(store: S3Store): Map<string, number> {
  const counts = new Map<string, number>();
  const open = store.open.bind(store);
  store.open = async (bucket, key, versionId) => {
    const opened = await open(bucket, key, versionId);
    const source = opened.body;
    counts.set(key, counts.get(key) ?? 0);
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of source) {
          counts.set(key, (counts.get(key) ?? 0) + (chunk as Buffer).length);
          yield chunk as Buffer;
        }
      })(),
      { highWaterMark: 1 },
    );
    // Destroyed before its first read, the generator never runs: the response must still be released.
    counted.on('close', () => source.destroy());
    return { ...opened, body: counted };
  };
  return counts;
}
