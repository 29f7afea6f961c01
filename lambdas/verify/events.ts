import { type EventPublisher, recordEvents } from '#core/index.ts';
import type { RecordRepository } from './context.ts';
import { withRecordHooks } from './record-hooks.ts';

/**
 * The record store, publishing an event for each status a record enters (created, moved), read back
 * after the write so the event says what the table says. A failure to publish never undoes or fails a
 * decision: it is handed to `failed` (logged and counted), and the records table stays the truth.
 */
export function publishingEvents(
  records: RecordRepository,
  publish: EventPublisher,
  failed: (error: unknown) => void,
  pipelineOf: (objectKey: string) => string | undefined = () => undefined,
): RecordRepository {
  const announce = async (objectKey: string, version: string) => {
    try {
      const record = await records.get(objectKey, version);
      if (record) await publish(recordEvents(record, pipelineOf(objectKey)));
    } catch (error) {
      failed(error);
    }
  };
  return withRecordHooks(records, {
    created: (record) => announce(record.objectKey, record.version),
    moved: ({ objectKey, version }) => announce(objectKey, version),
  });
}
