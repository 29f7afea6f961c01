import { describe, expect, it } from 'vitest';
import { parseS3Notification, sequenceOrder, versionOf } from '#core/index.ts';

const UPLOADED = new Date('2026-06-01T00:00:00.000Z');
const fromUploadTime = UPLOADED.getTime().toString(16).toUpperCase().padEnd(64, '0');

describe('#sequenceOrder', () => {
  it('right-pads a sequencer with zeros, in upper case, as AWS compares them', () => {
    expect(sequenceOrder('0a1B', UPLOADED)).toBe(`0A1B${'0'.repeat(60)}`);
    // Padded, a shorter sequencer sorts by its leading digits, not its length.
    expect(sequenceOrder('A', UPLOADED) > sequenceOrder('9F', UPLOADED)).toBe(true);
  });

  it.each([
    ['a character that is not hex at the end', '0A1z'],
    ['a character that is not hex at the start', 'z0A1'],
    ['more than 64 digits', '1'.repeat(65)],
  ])('stands the upload time in for a sequencer with %s', (_what, sequencer) => {
    expect(sequenceOrder(sequencer, UPLOADED)).toBe(fromUploadTime);
  });
});

describe('#versionOf', () => {
  it('names a version by its ID, else its ETag, else as unversioned', () => {
    expect(versionOf({ versionId: 'v1', eTag: '"e"' })).toBe('v1');
    expect(versionOf({ eTag: '"e"' })).toBe('"e"');
    expect(versionOf({})).toBe('unversioned');
  });
});

describe('#parseS3Notification, what an event says of its object', () => {
  const record = (object: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key: 'k', ...object } },
          ...extra,
        },
      ],
    });

  it('keeps version, size, sequencer and time, and quotes the ETag as API responses do', () => {
    const [event] = parseS3Notification(
      record(
        { versionId: 'v1', eTag: 'abc', size: 42, sequencer: '0A1B' },
        { eventTime: '2026-06-01T12:00:00.000Z' },
      ),
    );
    expect(event).toEqual({
      bucket: 'b',
      key: 'k',
      versionId: 'v1',
      eTag: '"abc"',
      size: 42,
      sequencer: '0A1B',
      eventName: 'ObjectCreated:Put',
      eventTime: '2026-06-01T12:00:00.000Z',
    });
  });

  it('leaves an ETag already quoted as it is', () => {
    expect(parseS3Notification(record({ eTag: '"abc"' }))[0]?.eTag).toBe('"abc"');
  });
});
