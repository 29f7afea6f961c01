import type { ArtifactRecord, ArtifactStatus, RecordPatch } from '#core/lifecycle.ts';
import type { RecordRepository } from './context.ts';

/** What to do once a record is created, or has entered a new status (a pending record staying pending is none). */
export interface RecordHooks {
  readonly created?: (record: ArtifactRecord) => unknown;
  readonly moved?: (move: {
    objectKey: string;
    version: string;
    to: ArtifactStatus;
    patch: RecordPatch;
    note: string | undefined;
  }) => unknown;
}

/**
 * The record store, calling `hooks` after each write that records a decision (decision events, the local
 * console). Every other method is the store's own, so a method added to the store passes through as is.
 */
export function withRecordHooks(records: RecordRepository, hooks: RecordHooks): RecordRepository {
  const create: RecordRepository['create'] = async (record, claim) => {
    const created = await records.create(record, claim);
    if (created) await hooks.created?.(record);
    return created;
  };
  const transition: RecordRepository['transition'] = async (objectKey, version, to, patch, note) => {
    const moved = await records.transition(objectKey, version, to, patch, note);
    if (moved && to !== 'pending') await hooks.moved?.({ objectKey, version, to, patch, note });
    return moved;
  };
  return new Proxy(records, {
    get(target, property) {
      if (property === 'create') return create;
      if (property === 'transition') return transition;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
