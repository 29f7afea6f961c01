import type { IndexedAttestation, Waiter } from '#adapters/attestation-index.ts';
import { type KeyRecord, RegistryKeyCache } from '#adapters/key-registry.ts';
import type { DueEntry } from '#adapters/records.ts';
import { ALLOWED_FROM, type ArtifactRecord, type ArtifactStatus, type RecordPatch } from '#core/index.ts';
import type { AttestationIndexPort, RecordRepository } from '../../lambdas/verify/context.ts';

/**
 * In-memory stand-ins for the pipeline's ports, with the same conditional semantics as the DynamoDB
 * adapters (each write checks and changes in one step, as a conditional write does), so the pipeline's
 * paths can be tested in milliseconds. The adapters themselves are tested against dynalite.
 */

const clone = <T>(value: T): T => structuredClone(value);

interface Stored extends ArtifactRecord {
  readonly promotionOwner?: string;
  readonly promotionUntil?: string;
}

export class MemoryRecords implements RecordRepository {
  private readonly items = new Map<string, Stored>();
  private readonly slots = new Map<
    string,
    {
      version?: string;
      sequencer?: string;
      leaseOwner?: string;
      leaseVersion?: string;
      leaseSequencer?: string;
      leaseUntil?: string;
    }
  >();
  private readonly due = new Map<string, DueEntry>();

  private id = (objectKey: string, version: string) => `${objectKey}\u0000${version}`;

  all(): ArtifactRecord[] {
    return [...this.items.values()].map(clone);
  }

  /** The due entries the sweep will read. */
  dueEntries(): DueEntry[] {
    return [...this.due.values()].map(clone);
  }

  async get(objectKey: string, version: string) {
    const item = this.items.get(this.id(objectKey, version));
    return item ? clone(item) : undefined;
  }

  async create(record: ArtifactRecord, claim?: { owner: string; until: string }) {
    const id = this.id(record.objectKey, record.version);
    if (this.items.has(id)) return false;
    this.items.set(id, {
      ...clone(record),
      ...(claim && record.status === 'verified'
        ? { promotionOwner: claim.owner, promotionUntil: claim.until }
        : {}),
    });
    return true;
  }

  async transition(
    objectKey: string,
    version: string,
    to: ArtifactStatus,
    patch: RecordPatch,
    note?: string,
  ) {
    const id = this.id(objectKey, version);
    const item = this.items.get(id);
    if (!item || !ALLOWED_FROM[to].includes(item.status)) return false;
    const at = patch.updatedAt ?? new Date().toISOString();
    this.items.set(id, {
      ...item,
      ...clone(withoutUndefined(patch)),
      status: to,
      updatedAt: at,
      history: [...item.history, { status: to, at, ...(note ? { note } : {}) }],
    });
    return true;
  }

  async annotate(
    objectKey: string,
    version: string,
    status: ArtifactStatus,
    patch: RecordPatch,
    note: string,
  ) {
    const id = this.id(objectKey, version);
    const item = this.items.get(id);
    if (!item || item.status !== status) return false;
    const at = patch.updatedAt ?? new Date().toISOString();
    this.items.set(id, {
      ...item,
      ...clone(withoutUndefined(patch)),
      updatedAt: at,
      history: [...item.history, { status, at, note }],
    });
    return true;
  }

  async claimPromotion(objectKey: string, version: string, owner: string, at: string, until: string) {
    const id = this.id(objectKey, version);
    const item = this.items.get(id);
    if (item?.status !== 'verified') return false as const;
    const free =
      item.promotionUntil === undefined || item.promotionUntil < at || item.promotionOwner === owner;
    if (!free) return false as const;
    this.items.set(id, { ...item, promotionOwner: owner, promotionUntil: until });
    return item.promotionOwner === undefined ? ('first' as const) : ('again' as const);
  }

  async releasePromotion(objectKey: string, version: string, owner: string) {
    const id = this.id(objectKey, version);
    const item = this.items.get(id);
    if (!item || item.promotionOwner !== owner) return false;
    this.items.set(id, { ...item, promotionUntil: new Date(0).toISOString() });
    return true;
  }

  /** As lambdas/adapters/deployment-slot.ts: a claim ends with its record (promoted, rejected) or lapses. */
  async claimDeployment(
    objectKey: string,
    claim: { version: string; sequencer: string; at: string; until: string },
  ): Promise<'claimed' | 'superseded' | 'busy'> {
    const owner = `${objectKey}#${claim.version}`;
    const slot = this.slots.get(objectKey) ?? {};
    let settled = { version: slot.version, sequencer: slot.sequencer };
    const newer = () =>
      settled.sequencer !== undefined &&
      settled.version !== claim.version &&
      settled.sequencer >= claim.sequencer;
    if (slot.leaseOwner && slot.leaseOwner !== owner && slot.leaseVersion) {
      const state = this.items.get(this.id(objectKey, slot.leaseVersion))?.status;
      const lapsed = (slot.leaseUntil ?? '') < claim.at;
      const ended = state === 'promoted' || state === 'rejected' || state === undefined;
      if (
        (state === 'promoted' || state === 'quarantined') &&
        (settled.sequencer ?? '') < (slot.leaseSequencer ?? '')
      )
        settled = { version: slot.leaseVersion, sequencer: slot.leaseSequencer };
      if (!ended && !lapsed) return newer() ? 'superseded' : 'busy';
    }
    if (newer()) return 'superseded';
    this.slots.set(objectKey, {
      ...settled,
      leaseOwner: owner,
      leaseVersion: claim.version,
      leaseSequencer: claim.sequencer,
      leaseUntil: claim.until,
    });
    return 'claimed';
  }

  async byKey(objectKey: string) {
    return this.sorted([...this.items.values()].filter((item) => item.objectKey === objectKey));
  }

  async byLegacyStatus(_status: ArtifactStatus): Promise<ArtifactRecord[]> {
    return [];
  }

  async inStatus(statuses: readonly ArtifactStatus[]) {
    return this.sorted([...this.items.values()].filter((item) => statuses.includes(item.status)));
  }

  async byKeyId(keyId: string, statuses: readonly ArtifactStatus[]) {
    return this.sorted(
      [...this.items.values()].filter(
        (item) => statuses.includes(item.status) && (item.keyIds ?? []).includes(keyId),
      ),
    );
  }

  async markDue(objectKey: string, version: string, due: string) {
    this.due.set(`${this.id(objectKey, version)}\u0000${due}`, { objectKey, version, due });
  }

  async dueBefore(at: string) {
    return [...this.due.values()].filter((entry) => entry.due <= at).map(clone);
  }

  async clearDue(entry: DueEntry) {
    this.due.delete(`${this.id(entry.objectKey, entry.version)}\u0000${entry.due}`);
  }

  private sorted(items: readonly Stored[]): ArtifactRecord[] {
    return items.map(clone).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }
}

export class MemoryIndex implements AttestationIndexPort {
  private readonly attestations = new Map<string, Map<string, IndexedAttestation>>();
  private readonly waiters = new Map<string, Map<string, Waiter>>();

  async add(digests: readonly string[], attestation: IndexedAttestation) {
    for (const digest of digests) {
      const entries = this.attestations.get(digest) ?? new Map();
      entries.set(`${attestation.objectKey}\u0000${attestation.version}`, { ...attestation });
      this.attestations.set(digest, entries);
    }
  }

  async attestationsFor(digests: readonly string[], max = 256) {
    const found = new Map<string, IndexedAttestation>();
    for (const digest of digests)
      for (const [id, entry] of [...(this.attestations.get(digest) ?? new Map()).entries()].slice(0, max))
        found.set(id, entry);
    return [...found.values()];
  }

  async addWaiter(digest: string, waiter: Waiter) {
    const entries = this.waiters.get(digest) ?? new Map();
    entries.set(`${waiter.objectKey}\u0000${waiter.version}`, {
      objectKey: waiter.objectKey,
      version: waiter.version,
    });
    this.waiters.set(digest, entries);
  }

  async waitersFor(digest: string) {
    return [...(this.waiters.get(digest)?.values() ?? [])];
  }

  async removeWaiter(digest: string, waiter: Waiter) {
    this.waiters.get(digest)?.delete(`${waiter.objectKey}\u0000${waiter.version}`);
  }
}

/** The key registry's records in memory, behind the real cache the verifier uses. */
export class MemoryRegistry {
  readonly records = new Map<string, KeyRecord>();
  /** Every batch of key IDs read, and whether strongly consistent. */
  readonly reads: { keyIds: readonly string[]; consistent: boolean }[] = [];

  put(record: KeyRecord): void {
    this.records.set(record.keyId, record);
  }

  update(keyId: string, patch: Partial<KeyRecord>): void {
    const record = this.records.get(keyId);
    if (!record) throw new Error(`no key ${keyId}`);
    this.records.set(keyId, { ...record, ...patch });
  }

  async getMany(keyIds: readonly string[], consistent = false): Promise<KeyRecord[]> {
    this.reads.push({ keyIds: [...keyIds], consistent });
    return keyIds.flatMap((id) => {
      const record = this.records.get(id);
      return record ? [record] : [];
    });
  }

  cache(ttlMs = 60_000, clock: () => number = Date.now): RegistryKeyCache {
    return new RegistryKeyCache(this, ttlMs, clock);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
