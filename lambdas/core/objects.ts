import { isRecord } from './json.ts';

/** Suffixes that mark an uploaded object as an attestation rather than an artifact. */
export const DEFAULT_ATTESTATION_SUFFIXES = [
  '.intoto.jsonl',
  '.sigstore.json',
  '.sigstore',
  '.dsse.json',
] as const;

export const isAttestationKey = (key: string, suffixes: readonly string[] = DEFAULT_ATTESTATION_SUFFIXES) =>
  suffixes.some((suffix) => key.endsWith(suffix));

/** `app.tar.gz.sigstore.json` → `app.tar.gz`: the artifact an attestation sits beside, by convention. */
export function artifactKeyBeside(
  attestationKey: string,
  suffixes: readonly string[] = DEFAULT_ATTESTATION_SUFFIXES,
) {
  const suffix = suffixes.find((s) => attestationKey.endsWith(s));
  return suffix && attestationKey.length > suffix.length
    ? attestationKey.slice(0, -suffix.length)
    : undefined;
}

export const attestationKeysBeside = (
  artifactKey: string,
  suffixes: readonly string[] = DEFAULT_ATTESTATION_SUFFIXES,
) => suffixes.map((suffix) => `${artifactKey}${suffix}`);

/** One version of an object, as S3 describes it. */
export interface ObjectVersion {
  readonly bucket: string;
  readonly key: string;
  /** Present when the bucket is versioned: the version is immutable, the strongest handle there is. */
  readonly versionId?: string;
  readonly eTag?: string;
  readonly size: number;
  /** When S3 recorded the upload (for a multipart upload, possibly when it was initiated). */
  readonly lastModified: Date;
  /** User metadata (x-amz-meta-*), where the response carried it. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** How a record names a version: its version ID, or the ETag of its bytes where the bucket is unversioned. */
export const versionOf = (version: Pick<ObjectVersion, 'versionId' | 'eTag'>) =>
  version.versionId ?? version.eTag ?? 'unversioned';

/** One object S3 told us about. */
export interface ObjectEvent {
  readonly bucket: string;
  /** The decoded key, or the raw key when it does not decode (then `keyError` says why). */
  readonly key: string;
  readonly keyError?: string;
  readonly versionId?: string;
  readonly eTag?: string;
  readonly size?: number;
  /** S3's order of events on one key (hex); compare with `sequenceOrder`. */
  readonly sequencer?: string;
  readonly eventName: string;
  readonly eventTime: string;
}

/**
 * A sort key for S3 `sequencer` values: AWS compares them right-padded with zeros. Where an event carries
 * none (a reconciliation), the upload time in hex milliseconds stands in.
 */
export function sequenceOrder(sequencer: string | undefined, uploadedAt: Date): string {
  const hex =
    sequencer && /^[0-9A-Fa-f]{1,64}$/.test(sequencer) ? sequencer : uploadedAt.getTime().toString(16);
  return hex.toUpperCase().padEnd(64, '0');
}

/**
 * Reads S3 event notification records (the body of an SQS message from S3). S3 URL-encodes keys in
 * events, form-style (`+` for space); a key that does not decode is kept raw and flagged, so it is
 * recorded as a rejection instead of crashing the batch. `s3:TestEvent` carries no records.
 */
export function parseS3Notification(body: string): ObjectEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error('SQS message body is not JSON');
  }
  if (isRecord(parsed) && parsed.Event === 's3:TestEvent') return [];
  if (!isRecord(parsed) || !Array.isArray(parsed.Records))
    throw new Error('SQS message body is not an S3 event notification');
  return parsed.Records.flatMap((record): ObjectEvent[] => {
    if (!isRecord(record)) throw new Error('S3 event record is not an object');
    const eventName = typeof record.eventName === 'string' ? record.eventName : '';
    // Deletions and other notifications are not uploads: nothing to verify.
    if (eventName !== '' && !eventName.startsWith('ObjectCreated:')) return [];
    const { bucket, object } = isRecord(record.s3) ? record.s3 : {};
    // A record that names no object cannot be verified, and must not vanish: it fails the message, which
    // ends in the dead-letter queue for someone to look at.
    if (
      !isRecord(bucket) ||
      !isRecord(object) ||
      typeof bucket.name !== 'string' ||
      typeof object.key !== 'string'
    )
      throw new Error('S3 event record has no bucket name or object key');
    if (!eventName.startsWith('ObjectCreated:'))
      throw new Error('S3 event record has no ObjectCreated event name');
    let key = object.key;
    let keyError: string | undefined;
    try {
      key = decodeURIComponent(object.key.replace(/\+/g, ' '));
    } catch {
      keyError = 'the object key in the S3 event is not valid URL encoding';
    }
    return [
      {
        bucket: bucket.name,
        key,
        ...(keyError ? { keyError } : {}),
        ...(typeof object.versionId === 'string' ? { versionId: object.versionId } : {}),
        // S3 writes the ETag unquoted in events and quoted in every API response: one spelling here.
        ...(typeof object.eTag === 'string'
          ? { eTag: object.eTag.startsWith('"') ? object.eTag : `"${object.eTag}"` }
          : {}),
        ...(typeof object.size === 'number' ? { size: object.size } : {}),
        ...(typeof object.sequencer === 'string' ? { sequencer: object.sequencer } : {}),
        eventName,
        eventTime: typeof record.eventTime === 'string' ? record.eventTime : new Date(0).toISOString(),
      },
    ];
  });
}
