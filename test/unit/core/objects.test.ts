import { describe, expect, it } from 'vitest';
import { artifactKeyBeside, assertSafePath, isAttestationKey, parseS3Notification } from '#core/index.ts';
import { encodeEventKey } from '../../../local/stack.ts';

const notification = (key: string, eventName = 'ObjectCreated:Put') =>
  JSON.stringify({
    Records: [
      {
        eventName,
        eventTime: '2026-01-01T00:00:00.000Z',
        s3: { bucket: { name: 'b' }, object: { key, size: 1, eTag: '"e"' } },
      },
    ],
  });

describe('#parseS3Notification', () => {
  it.each(['releases/app 1.0.tar.gz', 'releases/a+b.tar.gz', 'releases/ünïcödé.bin', 'releases/100%.bin'])(
    'round-trips %j through S3 event encoding',
    (key) => {
      expect(parseS3Notification(notification(encodeEventKey(key)))[0]?.key).toBe(key);
    },
  );

  it('decodes an encoded traversal so the path check sees it', () => {
    const [event] = parseS3Notification(notification('releases/%2e%2e/%2e%2e/etc/passwd'));
    expect(event?.key).toBe('releases/../../etc/passwd');
    expect(() => assertSafePath(event?.key ?? '')).toThrow(/segment/);
  });

  it('flags a key that is not valid URL encoding instead of throwing', () => {
    expect(parseS3Notification(notification('releases/%E0%A4%A'))[0]?.keyError).toMatch(
      /not valid URL encoding/,
    );
  });

  it('ignores test events and non-create events', () => {
    expect(parseS3Notification(JSON.stringify({ Event: 's3:TestEvent' }))).toEqual([]);
    expect(parseS3Notification(notification('k', 'ObjectRemoved:Delete'))).toEqual([]);
  });

  it('throws on a body that is not an S3 notification (an infrastructure fault, retried then dead-lettered)', () => {
    expect(() => parseS3Notification('not json')).toThrow(new Error('SQS message body is not JSON'));
    for (const body of ['{"hello":1}', '[]', '{"Records":{}}'])
      expect(() => parseS3Notification(body)).toThrow(
        new Error('SQS message body is not an S3 event notification'),
      );
  });

  it('throws on a record that is not an object, whatever the records around it', () => {
    for (const record of [5, 'ObjectCreated:Put', [notification('k')]])
      expect(() => parseS3Notification(JSON.stringify({ Records: [record] }))).toThrow(
        new Error('S3 event record is not an object'),
      );
  });

  it('throws on a create record that names no object, rather than dropping it', () => {
    const body = (record: unknown) => JSON.stringify({ Records: [record] });
    expect(() => parseS3Notification(body({ eventSource: 'aws:s3', s3: {} }))).toThrow(
      /no bucket name or object key/,
    );
    expect(() =>
      parseS3Notification(body({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' } } })),
    ).toThrow(/no bucket name or object key/);
    expect(() => parseS3Notification(body({ s3: { bucket: { name: 'b' }, object: { key: 'k' } } }))).toThrow(
      /no ObjectCreated event name/,
    );
  });
});

describe('attestation keys', () => {
  it('recognises attestation suffixes and the artifact beside them', () => {
    expect(isAttestationKey('releases/app.tar.gz.intoto.jsonl')).toBe(true);
    expect(isAttestationKey('releases/app.tar.gz')).toBe(false);
    expect(artifactKeyBeside('releases/app.tar.gz.sigstore.json')).toBe('releases/app.tar.gz');
    expect(artifactKeyBeside('.sigstore.json')).toBeUndefined();
  });
});
