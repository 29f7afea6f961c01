import { describe, expect, it } from 'vitest';
import type { ArtifactRecord } from '#core/lifecycle.ts';
import { publishingEvents } from '../../../lambdas/verify/events.ts';
import { withRecordHooks } from '../../../lambdas/verify/record-hooks.ts';
import { MemoryRecords } from '../../helpers/fakes.ts';

const at = '2026-06-01T00:00:00.000Z';
const record = (status: ArtifactRecord['status']): ArtifactRecord => ({
  objectKey: 'releases/app.tgz',
  version: 'v1',
  bucket: 'vouch-staging',
  size: 3,
  digest: `sha256:${'a'.repeat(64)}`,
  digests: { sha256: 'a'.repeat(64) },
  status,
  reasons: [],
  uploadedAt: at,
  createdAt: at,
  updatedAt: at,
  history: [],
});

describe('#withRecordHooks', () => {
  it('creates a record with its promotion claim, then calls created', async () => {
    const records = new MemoryRecords();
    const created: string[] = [];
    const hooked = withRecordHooks(records, { created: (r) => created.push(r.status) });
    expect(await hooked.create(record('verified'), { owner: 'me', until: '2099-01-01T00:00:00.000Z' })).toBe(
      true,
    );
    expect(created).toEqual(['verified']);
    // The claim went through: another owner cannot take the promotion while it holds.
    expect(
      await records.claimPromotion('releases/app.tgz', 'v1', 'other', at, '2099-01-01T00:00:00.000Z'),
    ).toBe(false);
    expect((await records.get('releases/app.tgz', 'v1'))?.promotionOwner).toBe('me');
  });

  it('calls moved for a new status only: not for a record that stays pending, nor for a refused move', async () => {
    const records = new MemoryRecords();
    const moves: string[] = [];
    const hooked = withRecordHooks(records, { moved: ({ to }) => moves.push(to) });
    await hooked.create(record('pending'));
    await hooked.transition('releases/app.tgz', 'v1', 'pending', { updatedAt: at });
    await hooked.transition('releases/app.tgz', 'v1', 'rejected', { updatedAt: at });
    // From rejected nothing moves: no hook either.
    expect(await hooked.transition('releases/app.tgz', 'v1', 'promoted', { updatedAt: at })).toBe(false);
    expect(moves).toEqual(['rejected']);
  });

  it("passes every other method to the store's own", async () => {
    const records = new MemoryRecords();
    const hooked = withRecordHooks(records, {});
    await records.create(record('pending'));
    expect((await hooked.byKey('releases/app.tgz')).map((r) => r.status)).toEqual(['pending']);
    expect(await hooked.get('releases/app.tgz', 'v1')).toEqual(await records.get('releases/app.tgz', 'v1'));
  });
});

describe('#publishingEvents', () => {
  it('keeps the promotion claim of a record it creates (decision events on, as in AWS)', async () => {
    const records = new MemoryRecords();
    const published: string[] = [];
    const store = publishingEvents(
      records,
      async (events) => {
        for (const event of events) if ('status' in event.detail) published.push(event.detail.status);
      },
      () => {},
    );
    await store.create(record('verified'), { owner: 'me', until: '2099-01-01T00:00:00.000Z' });
    expect((await records.get('releases/app.tgz', 'v1'))?.promotionOwner).toBe('me');
    expect(published).toEqual(['verified']);
  });
});
