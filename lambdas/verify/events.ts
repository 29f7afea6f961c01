import { type EventPublisher, recordEvents } from '#core/index.ts';
import type { RecordRepository } from './context.ts';

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
  return {
    get: records.get.bind(records),
    annotate: records.annotate.bind(records),
    claimPromotion: records.claimPromotion.bind(records),
    releasePromotion: records.releasePromotion.bind(records),
    claimDeployment: records.claimDeployment.bind(records),
    byKey: records.byKey.bind(records),
    byLegacyStatus: records.byLegacyStatus.bind(records),
    byKeyId: records.byKeyId.bind(records),
    inStatus: records.inStatus.bind(records),
    markDue: records.markDue.bind(records),
    dueBefore: records.dueBefore.bind(records),
    clearDue: records.clearDue.bind(records),
    async create(record) {
      const created = await records.create(record);
      if (created) await announce(record.objectKey, record.version);
      return created;
    },
    async transition(objectKey, version, to, patch, note) {
      const moved = await records.transition(objectKey, version, to, patch, note);
      if (moved && to !== 'pending') await announce(objectKey, version);
      return moved;
    },
  };
}
