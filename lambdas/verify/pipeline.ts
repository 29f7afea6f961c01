import { createHash, randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { AttestationIndex, IndexedAttestation } from '#adapters/attestation-index.ts';
import type { RegistryKeyCache } from '#adapters/key-registry.ts';
import type { ArtifactRecord, ArtifactStatus, RecordStore } from '#adapters/records.ts';
import { isMissing, type ObjectStore, type ObjectVersion } from '#adapters/s3-store.ts';
import {
  type Attestation,
  artifactKeyBeside,
  assertSafePath,
  attestationKeysBeside,
  DEFAULT_ATTESTATION_SUFFIXES,
  DEFAULT_LIMITS,
  type Decision,
  type DigestAlgorithm,
  type Digests,
  digestStream,
  digestsMatch,
  eachIsolated,
  evaluate,
  formatDigests,
  isAttestationKey,
  isDigestAlgorithm,
  keySignaturesStillValid,
  type Limits,
  mapLimited,
  namedKeys,
  type ObjectEvent,
  type Policy,
  parseAttestationFile,
  primaryDigest,
  type Reason,
  type SignFn,
  sequenceOrder,
  signStatement,
  type TrustRoot,
  type TrustRootSet,
  toReason,
  verificationSummary,
} from '#core/index.ts';

export interface PipelineDeps {
  readonly s3: ObjectStore;
  readonly records: RecordStore;
  readonly index: AttestationIndex;
  readonly keys: RegistryKeyCache;
  readonly policy: Policy;
  /** The Sigstore roots keyless signatures verify under, by instance (read on each evaluation). */
  readonly trustRoot: TrustRoot | TrustRootSet;
  /** Signs verification summaries with the pipeline's own KMS key. */
  readonly vsaSigner: SignFn;
  readonly stagingBucket: string;
  readonly deploymentBucket: string;
  /** How long an artifact with no attestation yet waits before it is rejected. */
  readonly pendingDeadlineSeconds: number;
  /** Digests computed for every artifact, and so the digests attestations are found by. */
  readonly digestAlgorithms?: readonly DigestAlgorithm[];
  readonly attestationSuffixes?: readonly string[];
  readonly limits?: Limits;
  readonly now?: () => Date;
}

export interface Outcome {
  readonly objectKey: string;
  readonly kind: 'artifact' | 'attestation' | 'ignored';
  readonly status?: ArtifactStatus;
  readonly reasons?: readonly Reason[];
  /** Artifacts re-evaluated because this attestation arrived. */
  readonly reevaluated?: readonly Outcome[];
}

/** What a promoted artifact's VSA and attestation copies are called in the deployment bucket. */
export const vsaKey = (objectKey: string) => `${objectKey}.vsa.sigstore.json`;
export const attestationCopyPrefix = (objectKey: string) => `${objectKey}.attestations/`;

/**
 * Where an input attestation's copy goes: named by the SHA-256 of its content, so no upload, whatever
 * its name, can overwrite another's copy, and the name says exactly which bytes it holds.
 */
export function attestationCopyKey(objectKey: string, content: Buffer): string {
  return `${attestationCopyPrefix(objectKey)}${createSha256(content)}.json`;
}
/** Where the promoter streams an unversioned artifact before it is moved into place (deployment bucket). */
export const INCOMING_PREFIX = '.vouch/incoming/';
/**
 * How long a promotion claim holds: the Lambda timeout, so a claim outlives any invocation that made it.
 * A record left `verified` this long was abandoned mid-promotion (its claim has lapsed): the sweep finishes it.
 */
const PROMOTION_LEASE_MS = 15 * 60 * 1000;
const STALE_VERIFIED_MS = PROMOTION_LEASE_MS;

export function createPipeline(deps: PipelineDeps) {
  const algorithms = deps.digestAlgorithms ?? ['sha256'];
  const suffixes = deps.attestationSuffixes ?? DEFAULT_ATTESTATION_SUFFIXES;
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const now = deps.now ?? (() => new Date());

  /**
   * Handles one S3 ObjectCreated event. Infrastructure faults throw (and are retried); verdicts never do.
   * `owner` names the delivery (the SQS message ID): a redelivery of the same message may take back the
   * promotion claim its failed attempt left, while a duplicate event (another message) may not.
   */
  async function handle(event: ObjectEvent, owner: string = randomUUID()): Promise<Outcome> {
    if (event.bucket !== deps.stagingBucket) return { objectKey: event.key, kind: 'ignored' };
    if (event.keyError) return rejectUnreadableKey(event, event.keyError);
    try {
      assertSafePath(event.key, limits.maxPathBytes);
    } catch (error) {
      return rejectUnreadableKey(event, toReason(error).message);
    }
    return isAttestationKey(event.key, suffixes)
      ? ingestAttestation(event, owner)
      : verifyArtifact(event, owner);
  }

  async function rejectUnreadableKey(event: ObjectEvent, message: string): Promise<Outcome> {
    const at = now().toISOString();
    const reasons: Reason[] = [{ code: 'INVALID_PATH', message }];
    await deps.records.create({
      objectKey: event.key,
      version: event.versionId ?? event.eTag ?? 'unknown',
      bucket: event.bucket,
      size: event.size ?? 0,
      digest: 'unknown',
      digests: {},
      status: 'rejected',
      reasons,
      uploadedAt: event.eventTime,
      createdAt: at,
      updatedAt: at,
      history: [{ status: 'rejected', at, note: 'refused before download' }],
    });
    return {
      objectKey: event.key,
      kind: isAttestationKey(event.key, suffixes) ? 'attestation' : 'artifact',
      status: 'rejected',
      reasons,
    };
  }

  async function ingestAttestation(event: ObjectEvent, owner: string): Promise<Outcome> {
    const loaded = await loadAttestationFile({ key: event.key, versionId: event.versionId });
    if (!loaded) return { objectKey: event.key, kind: 'ignored' };
    const { version, parsed } = loaded;
    const digests = new Set<string>();
    for (const attestation of parsed.attestations) {
      if (attestation.kind === 'signature') {
        digests.add(`${attestation.messageDigest.algorithm}:${attestation.messageDigest.hex}`);
        continue;
      }
      for (const subject of attestation.statement.subject) {
        for (const [algorithm, hex] of Object.entries(subject.digest)) {
          if (isDigestAlgorithm(algorithm)) digests.add(`${algorithm}:${hex.toLowerCase()}`);
        }
      }
    }
    if (digests.size > limits.maxDigestsPerFile) {
      const reasons: Reason[] = [
        {
          code: 'LIMIT_EXCEEDED',
          message: `${event.key} names ${digests.size} digests (at most ${limits.maxDigestsPerFile}); not indexed`,
          subject: event.key,
        },
      ];
      await recordAttestationRejection(version, reasons);
      return { objectKey: event.key, kind: 'attestation', status: 'rejected', reasons };
    }
    await deps.index.add([...digests], {
      objectKey: event.key,
      version: versionOf(version),
      observedAt: storedAt(event, version).toISOString(),
    });

    if (parsed.attestations.length === 0) {
      // Nothing usable: record why, so the uploader can find out (`vouch status KEY`).
      await recordAttestationRejection(version, parsed.errors);
      return { objectKey: event.key, kind: 'attestation', status: 'rejected', reasons: parsed.errors };
    }
    // Wake what was waiting: artifacts pending on a digest this names, and the artifact beside it.
    const waiting: ArtifactRecord[] = [];
    for (const digest of digests) {
      for (const waiter of await deps.index.waitersFor(digest)) {
        const record = await deps.records.get(waiter.objectKey, waiter.version);
        if (record) waiting.push(record);
      }
    }
    const beside = artifactKeyBeside(event.key, suffixes);
    if (beside) waiting.push(...(await deps.records.byKey(beside)));
    const seen = new Set<string>();
    const pending = waiting.filter((record) => {
      const id = `${record.objectKey}#${record.version}`;
      if (record.status !== 'pending' || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    const reevaluated = await eachIsolated(pending, (record) => evaluateRecorded(record, owner));
    return {
      objectKey: event.key,
      kind: 'attestation',
      ...(parsed.errors.length ? { reasons: parsed.errors } : {}),
      reevaluated,
    };
  }

  /**
   * When S3 finished storing this version: the notification's time where the event is about the version
   * read (never earlier than LastModified, which S3 may date from the start of a multipart upload),
   * otherwise now, the latest time it could have been stored: a revocation is never outrun.
   */
  function storedAt(event: ObjectEvent, version: ObjectVersion): Date {
    const eventVersion = event.versionId ?? event.eTag;
    const eventTime = Date.parse(event.eventTime);
    if (eventVersion === undefined || eventVersion !== versionOf(version) || Number.isNaN(eventTime))
      return now();
    return new Date(Math.max(eventTime, version.lastModified.getTime()));
  }

  async function verifyArtifact(event: ObjectEvent, owner: string): Promise<Outcome> {
    const eventVersion = event.versionId ?? event.eTag;
    const existing = eventVersion ? await deps.records.get(event.key, eventVersion) : undefined;
    if (existing) return resume(existing, owner);

    let opened: Awaited<ReturnType<ObjectStore['open']>>;
    try {
      opened = await deps.s3.open(event.bucket, event.key, event.versionId);
    } catch (error) {
      // Deleted since the event: nothing to verify, nothing to promote.
      if (isMissing(error)) return { objectKey: event.key, kind: 'ignored' };
      throw error;
    }
    const { digests, size } = await digestStream(opened.body, algorithms);
    const version = { ...opened.version, size };
    // The event named the version read (the usual case) or none: looked up above already.
    const recorded =
      versionOf(version) === eventVersion ? undefined : await deps.records.get(event.key, versionOf(version));
    if (recorded) return resume(recorded, owner);

    const startedAt = now().toISOString();
    const decision = await decide(event.key, digests);
    const status = statusFor(
      decision.decision,
      new Date(startedAt),
      new Date(version.lastModified.getTime() + deps.pendingDeadlineSeconds * 1000),
    );
    const sameVersion = eventVersion !== undefined && versionOf(version) === eventVersion;
    const record: ArtifactRecord = {
      objectKey: event.key,
      version: versionOf(version),
      ...(version.versionId && version.eTag ? { eTag: version.eTag } : {}),
      bucket: event.bucket,
      size,
      digest: primaryDigest(digests),
      digests,
      status,
      ...decisionFields(decision.decision),
      uploadedAt: version.lastModified.toISOString(),
      sequencer: sequenceOrder(sameVersion ? event.sequencer : undefined, version.lastModified),
      createdAt: startedAt,
      updatedAt: startedAt,
      ...(status === 'pending'
        ? {
            deadline: new Date(
              version.lastModified.getTime() + deps.pendingDeadlineSeconds * 1000,
            ).toISOString(),
          }
        : {}),
      history: [
        { status, at: startedAt, ...(status === 'pending' ? { note: 'waiting for attestations' } : {}) },
      ],
    };
    if (!(await deps.records.create(record))) {
      const winner = await deps.records.get(record.objectKey, record.version);
      return winner ? resume(winner, owner) : { objectKey: event.key, kind: 'artifact' };
    }
    if (status === 'pending') {
      for (const digest of formatDigests(digests)) await deps.index.addWaiter(digest, record);
      // An attestation indexed while this artifact was being verified may have looked for waiters before
      // ours existed. Waiter written, then index read here; index written, then waiters read there: with
      // strong reads at least one side sees the other, so nothing stays pending by accident of timing.
      if ((await deps.index.attestationsFor(formatDigests(digests))).length > 0)
        return evaluateRecorded(record, owner);
    }
    if (status === 'verified') return promote(record, decision.decision, decision.inputs, owner);
    return { objectKey: event.key, kind: 'artifact', status, reasons: record.reasons };
  }

  /** A duplicate or retried event: carry the record forward instead of starting again. */
  async function resume(record: ArtifactRecord, owner: string = randomUUID()): Promise<Outcome> {
    if (record.status === 'pending') return evaluateRecorded(record, owner);
    if (record.status === 'verified') {
      const { decision, inputs } = await decide(record.objectKey, record.digests as Digests);
      if (decision.accepted) return promote(record, decision, inputs, owner);
    }
    return { objectKey: record.objectKey, kind: 'artifact', status: record.status, reasons: record.reasons };
  }

  /** Re-evaluates a pending artifact from its recorded digests: attestations are checked against digests, not bytes. */
  async function evaluateRecorded(record: ArtifactRecord, owner: string = randomUUID()): Promise<Outcome> {
    const at = now();
    const { decision, inputs } = await decide(record.objectKey, record.digests as Digests);
    const deadline = new Date(record.deadline ?? record.createdAt);
    const status = statusFor(decision, at, deadline);
    if (status === 'pending')
      return { objectKey: record.objectKey, kind: 'artifact', status, reasons: decision.reasons };
    const moved = await deps.records.transition(record.objectKey, record.version, status, {
      ...decisionFields(decision),
      updatedAt: at.toISOString(),
    });
    if (moved)
      for (const digest of formatDigests(record.digests as Digests))
        await deps.index.removeWaiter(digest, record);
    const current = (await deps.records.get(record.objectKey, record.version)) ?? record;
    if (moved && status === 'verified') return promote(current, decision, inputs, owner);
    return {
      objectKey: record.objectKey,
      kind: 'artifact',
      status: current.status,
      reasons: current.reasons,
    };
  }

  interface GatheredInput {
    readonly version: ObjectVersion;
    readonly content: Buffer;
  }

  /** One attestation file to read: found through the index (with its trusted time) or beside the artifact. */
  interface Source {
    readonly key: string;
    readonly versionId?: string;
    readonly indexed?: IndexedAttestation;
    readonly beside: boolean;
  }

  async function decide(objectKey: string, digests: Digests) {
    const besideKeys = attestationKeysBeside(objectKey, suffixes);
    const indexed = await deps.index.attestationsFor(formatDigests(digests));
    const sources = prioritise(objectKey, indexed).map(
      (entry): Source => ({
        key: entry.objectKey,
        ...(entry.version.startsWith('"') ? {} : { versionId: entry.version }),
        indexed: entry,
        beside: besideKeys.includes(entry.objectKey),
      }),
    );
    const first = await evaluateSources(objectKey, digests, sources);
    // What the index found settles it: more attestations could not take an acceptance away.
    if (first.decision.accepted) return first;
    // Otherwise read what sits beside the artifact (KEY.sigstore.json, …) and is not indexed yet: its own
    // pipeline's word about it, which can settle now what the index would only settle later. A GET of a
    // missing key costs what a HEAD does.
    const known = new Set(sources.map((source) => source.key));
    const unseen = besideKeys.filter((key) => !known.has(key)).map((key): Source => ({ key, beside: true }));
    if (unseen.length === 0) return first;
    const second = await evaluateSources(objectKey, digests, [...unseen, ...sources]);
    return second.found > first.found ? second : first;
  }

  /**
   * The order attestations are read in, when there are more than one evaluation may read: beside the
   * artifact first, then its own folder, then the newest. Anyone can upload attestations naming a digest;
   * whoever floods it pushes only their own copies down the list, not the artifact's pipeline's.
   */
  function prioritise(objectKey: string, entries: readonly IndexedAttestation[]): IndexedAttestation[] {
    const folder = dirname(objectKey);
    const rank = (entry: IndexedAttestation) =>
      artifactKeyBeside(entry.objectKey, suffixes) === objectKey
        ? 0
        : dirname(entry.objectKey) === folder
          ? 1
          : 2;
    return [...entries].sort((a, b) => rank(a) - rank(b) || b.observedAt.localeCompare(a.observedAt));
  }

  async function evaluateSources(objectKey: string, digests: Digests, sources: readonly Source[]) {
    let budget = limits.maxBytesPerEvaluation;
    const admit = (size: number) => {
      if (size > budget) return false;
      budget -= size;
      return true;
    };
    const considered = sources.slice(0, limits.maxAttestationsPerEvaluation);
    const loaded = await mapLimited(considered, 4, (source) => loadAttestationFile(source, admit));
    const attestations: Attestation[] = [];
    const inputErrors: Reason[] = [];
    const files = new Map<string, GatheredInput>();
    let found = 0;
    for (const [i, file] of loaded.entries()) {
      const source = considered[i] as Source;
      if (!file) continue;
      found++;
      inputErrors.push(...file.parsed.errors);
      const observedAt =
        source.indexed && versionOf(file.version) === source.indexed.version
          ? new Date(source.indexed.observedAt)
          : now();
      for (const attestation of file.parsed.attestations) {
        attestation.observedAt = observedAt;
        attestation.beside = source.beside;
        attestations.push(attestation);
        files.set(attestation.source, { version: file.version, content: file.content });
      }
    }
    if (sources.length > considered.length) {
      inputErrors.push({
        code: 'LIMIT_EXCEEDED',
        message: `${sources.length} attestation files name this artifact; the first ${considered.length} were read`,
      });
    }
    await deps.keys.preload([...keyHints(attestations), ...namedKeys(deps.policy)]);
    const decision = evaluate({
      artifact: { path: objectKey, digests },
      attestations,
      inputErrors,
      policy: deps.policy,
      keys: deps.keys.lookup,
      trustRoot: deps.trustRoot,
      observedAt: now(),
      now: now(),
      limits,
    });
    // The summary lists what the promotion rests on, not everything anyone uploaded.
    const inputs = new Map<string, GatheredInput>();
    for (const report of decision.attestations) {
      const file = files.get(report.source);
      if (report.counted && file) inputs.set(`${file.version.key}#${versionOf(file.version)}`, file);
    }
    return { decision, inputs: [...inputs.values()], found };
  }

  /** Reads and parses one attestation file; undefined when it is gone (deleted, or never there). */
  async function loadAttestationFile(
    source: { readonly key: string; readonly versionId?: string | undefined },
    admit?: (size: number) => boolean,
  ) {
    let read: Awaited<ReturnType<ObjectStore['readSmall']>>;
    try {
      read = await deps.s3.readSmall(deps.stagingBucket, source.key, limits.maxAttestationBytes, {
        ...(source.versionId ? { versionId: source.versionId } : {}),
        ...(admit ? { admit } : {}),
      });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if ('tooLarge' in read) {
      const reason: Reason = {
        code: 'LIMIT_EXCEEDED',
        message:
          read.version.size > limits.maxAttestationBytes
            ? `${source.key}: ${read.version.size} bytes exceeds the limit of ${limits.maxAttestationBytes}`
            : `${source.key}: not read, the attestations read for this artifact would pass ${limits.maxBytesPerEvaluation} bytes`,
        subject: source.key,
      };
      return {
        version: read.version,
        content: Buffer.alloc(0),
        parsed: { attestations: [], errors: [reason] },
      };
    }
    return {
      version: read.version,
      content: read.content,
      parsed: parseAttestationFile(read.content, source.key, limits),
    };
  }

  async function recordAttestationRejection(version: ObjectVersion, reasons: readonly Reason[]) {
    const at = now().toISOString();
    await deps.records.create({
      objectKey: version.key,
      version: versionOf(version),
      bucket: version.bucket,
      size: version.size,
      digest: 'unknown',
      digests: {},
      status: 'rejected',
      reasons,
      uploadedAt: version.lastModified.toISOString(),
      createdAt: at,
      updatedAt: at,
      history: [{ status: 'rejected', at, note: 'unusable attestation file' }],
    });
  }

  /**
   * Copies exactly the verified bytes. A versioned source is copied by version (immutable). Otherwise the
   * object is streamed into a private incoming prefix while being digested again, and only moved to its
   * key if the digest still matches: an overwrite after verification never reaches deployers.
   */
  async function promote(
    record: ArtifactRecord,
    decision: Decision,
    inputs: readonly GatheredInput[],
    owner: string,
  ): Promise<Outcome> {
    // The decision may rest on keys read from a cache: confirm them against the registry as it is now,
    // so a revocation written since never lets an artifact through on a signature it invalidates.
    if (decision.keyIds.length > 0) {
      await deps.keys.refresh(decision.keyIds);
      if (!keySignaturesStillValid(decision, deps.keys.lookup)) return refuse(record, decision.keyIds);
    }
    const at = now();
    const until = new Date(at.getTime() + PROMOTION_LEASE_MS).toISOString();
    const claim = await deps.records.claimPromotion(
      record.objectKey,
      record.version,
      owner,
      at.toISOString(),
      until,
    );
    if (!claim) {
      // Another invocation (a duplicate event) is promoting it, or it is promoted already.
      const current = await deps.records.get(record.objectKey, record.version);
      return { objectKey: record.objectKey, kind: 'artifact', status: current?.status ?? record.status };
    }
    try {
      const sequencer = record.sequencer ?? sequenceOrder(undefined, new Date(record.uploadedAt));
      const slot = await deps.records.claimDeployment(record.objectKey, {
        version: record.version,
        sequencer,
        at: at.toISOString(),
        until,
      });
      if (slot === 'superseded') return await supersede(record);
      if (slot === 'busy') {
        throw new Error(`another version of ${record.objectKey} is being promoted; this one will be retried`);
      }
      const outcome = await promoteClaimed(record, decision, inputs, claim === 'again');
      if (outcome.status !== 'rejected')
        await deps.records.settleDeployment(record.objectKey, record.version, sequencer);
      return outcome;
    } catch (error) {
      // A failure we live to see gives the claim back, so the redelivery need not wait for it to lapse.
      await deps.records.releasePromotion(record.objectKey, record.version, owner).catch(() => false);
      throw error;
    }
  }

  /**
   * A key the decision rested on was revoked (or retired) since the cache read it: the artifact is not
   * promoted on it. It is decided again from fresh keys, for the record.
   */
  async function refuse(record: ArtifactRecord, relied: readonly string[]): Promise<Outcome> {
    const { decision } = await decide(record.objectKey, record.digests as Digests);
    const reasons: Reason[] = [
      {
        code: 'KEY_REVOKED',
        message: `${relied.join(', ')} no longer valid when its signatures were made (read again before promotion); not promoted`,
      },
      ...decision.reasons,
    ];
    await deps.records.transition(
      record.objectKey,
      record.version,
      'rejected',
      { ...decisionFields(decision), reasons, updatedAt: now().toISOString() },
      'key revoked before promotion',
    );
    const current = await deps.records.get(record.objectKey, record.version);
    return { objectKey: record.objectKey, kind: 'artifact', status: current?.status ?? 'rejected', reasons };
  }

  /** A newer upload of the same key holds (or held) the deployment bucket: an older one never replaces it. */
  async function supersede(record: ArtifactRecord): Promise<Outcome> {
    const reasons: Reason[] = [
      {
        code: 'SUPERSEDED',
        message: `a newer upload of ${record.objectKey} was promoted; an older version is never promoted over it`,
      },
    ];
    await deps.records.transition(
      record.objectKey,
      record.version,
      'rejected',
      { reasons, updatedAt: now().toISOString() },
      'superseded by a newer upload',
    );
    const current = await deps.records.get(record.objectKey, record.version);
    return { objectKey: record.objectKey, kind: 'artifact', status: current?.status ?? 'rejected', reasons };
  }

  async function promoteClaimed(
    record: ArtifactRecord,
    decision: Decision,
    inputs: readonly GatheredInput[],
    retried: boolean,
  ): Promise<Outcome> {
    const recordId = `${record.objectKey}#${record.version}`;
    // Only a retried promotion can find its own copy in place already (a crash between copying and
    // recording): then nothing is copied twice, and only the record is brought up to date.
    const deployed = retried ? await deps.s3.head(deps.deploymentBucket, record.objectKey) : undefined;
    if (deployed?.metadata?.['vouch-record'] !== recordId) {
      const rejected = await copyIntoPlace(record, decision, inputs, recordId);
      if (rejected) return rejected;
    }
    const moved = await deps.records.transition(record.objectKey, record.version, 'promoted', {
      promotedKey: record.objectKey,
      updatedAt: now().toISOString(),
    });
    if (moved)
      return { objectKey: record.objectKey, kind: 'artifact', status: 'promoted', reasons: decision.reasons };
    // The record moved on while the bytes were being copied: a revocation re-check quarantined it. What
    // was just copied must not stay where deployers fetch from.
    const current = await deps.records.get(record.objectKey, record.version);
    if (current && current.status !== 'promoted') await pull(current);
    return {
      objectKey: record.objectKey,
      kind: 'artifact',
      status: current?.status ?? 'promoted',
      reasons: decision.reasons,
    };
  }

  /**
   * Writes the VSA, the attestation copies and the verified bytes. Returns an outcome only when the bytes
   * changed under it (unversioned staging) and the artifact was rejected instead.
   */
  async function copyIntoPlace(
    record: ArtifactRecord,
    decision: Decision,
    inputs: readonly GatheredInput[],
    recordId: string,
  ): Promise<Outcome | undefined> {
    const source: ObjectVersion = {
      bucket: record.bucket,
      key: record.objectKey,
      ...(record.version.startsWith('"')
        ? { eTag: record.version }
        : { versionId: record.version, ...(record.eTag ? { eTag: record.eTag } : {}) }),
      size: record.size,
      lastModified: new Date(record.uploadedAt),
    };
    const metadata = {
      'vouch-digest': record.digest,
      'vouch-record': recordId,
      'vouch-policy': decision.policyDigest,
      ...(isFlagged(decision) ? { 'vouch-flagged': 'audit-mode' } : {}),
    };
    const subjectDigests = record.digests as Digests;
    const statement = verificationSummary({
      decision,
      resourceUri: `s3://${record.bucket}/${record.objectKey}`,
      subjectName: record.objectKey,
      inputAttestations: inputs.map((input) => ({
        uri: `s3://${input.version.bucket}/${input.version.key}`,
        digest: { sha256: createSha256(input.content) },
      })),
    });
    const bundle = await signStatement(statement, deps.vsaSigner);
    // The summary lands first: an artifact is never visible without the attestation deployers check.
    await deps.s3.put(deps.deploymentBucket, vsaKey(record.objectKey), `${JSON.stringify(bundle)}\n`);
    for (const input of inputs) {
      await deps.s3.put(
        deps.deploymentBucket,
        attestationCopyKey(record.objectKey, input.content),
        input.content,
      );
    }

    if (source.versionId) {
      await deps.s3.copyVersion(source, deps.deploymentBucket, record.objectKey, metadata);
    } else {
      const incoming = `${INCOMING_PREFIX}${randomUUID()}`;
      const landed = await deps.s3.streamCopy(source, deps.deploymentBucket, incoming, algorithms);
      if (!digestsMatch(subjectDigests, landed as Record<string, string>)) {
        await deps.s3.delete(deps.deploymentBucket, incoming);
        await deps.s3.delete(deps.deploymentBucket, vsaKey(record.objectKey));
        const reasons: Reason[] = [
          {
            code: 'SUBJECT_MISMATCH',
            message: `the staging object changed after verification (now ${primaryDigest(landed)}); not promoted`,
          },
        ];
        await deps.records.transition(
          record.objectKey,
          record.version,
          'rejected',
          { reasons, updatedAt: now().toISOString() },
          'overwritten during promotion',
        );
        return { objectKey: record.objectKey, kind: 'artifact', status: 'rejected', reasons };
      }
      await deps.s3.copyWithin(deps.deploymentBucket, incoming, record.objectKey, metadata);
      await deps.s3.delete(deps.deploymentBucket, incoming);
    }
    return undefined;
  }

  /**
   * Run on a schedule: rejects pending artifacts whose deadline has passed, and finishes promotions left
   * `verified` for longer than `STALE_VERIFIED_MS` (a crash after recording, whose message then ran out of
   * retries): nothing stays verified-but-not-promoted.
   */
  async function sweepPending(): Promise<Outcome[]> {
    const at = now();
    const due = (await deps.records.byStatus('pending')).filter(
      (record) => record.deadline !== undefined && new Date(record.deadline) <= at,
    );
    const stale = (await deps.records.byStatus('verified')).filter(
      (record) => at.getTime() - new Date(record.updatedAt).getTime() >= STALE_VERIFIED_MS,
    );
    // One record's fault (a hostile input, a throttled call) never stops the sweep of the others.
    const outcomes = await Promise.allSettled([
      eachIsolated(due, (record) => evaluateRecorded(record)),
      eachIsolated(stale, (record) => resume(record)),
    ]);
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    if (failed.length > 0)
      throw new AggregateError(failed, `sweep: ${failed.map((f) => (f as Error).message).join('; ')}`);
    return outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
  }

  /**
   * After a key's revocation: every verified or promoted artifact that one of its signatures vouched for
   * is evaluated again against the registry as it is now. Signatures made before the effective time still
   * count; if what is left no longer satisfies the policy, the artifact is pulled from the deployment
   * bucket (its VSA first, so no deployer can verify it any more) and only then recorded as quarantined,
   * so a crash in between leaves it to be pulled again, never recorded as pulled while still there.
   */
  async function recheckKey(keyId: string): Promise<Outcome[]> {
    deps.keys.invalidate([keyId]);
    const affected: ArtifactRecord[] = [];
    for (const status of ['verified', 'promoted'] as const) {
      for (const record of await deps.records.byStatus(status))
        if (record.keyIds?.includes(keyId)) affected.push(record);
    }
    // Each artifact on its own: one that cannot be re-checked never leaves the others promoted.
    return eachIsolated(affected, (record) => recheck(record, keyId));
  }

  async function recheck(record: ArtifactRecord, keyId: string): Promise<Outcome> {
    const { decision } = await decide(record.objectKey, record.digests as Digests);
    if (decision.accepted)
      return {
        objectKey: record.objectKey,
        kind: 'artifact',
        status: record.status,
        reasons: decision.reasons,
      };
    await pull(record);
    const reasons: Reason[] = [
      { code: 'KEY_REVOKED', message: `re-checked after the revocation of ${keyId}; pulled from deployment` },
      ...decision.reasons,
    ];
    const moved = await deps.records.transition(
      record.objectKey,
      record.version,
      'quarantined',
      { ...decisionFields(decision), reasons, updatedAt: now().toISOString() },
      `key ${keyId} revoked`,
    );
    const status = moved
      ? 'quarantined'
      : ((await deps.records.get(record.objectKey, record.version))?.status ?? 'quarantined');
    return { objectKey: record.objectKey, kind: 'artifact', status, reasons };
  }

  /** Removes an artifact's promoted copy (VSA first), if the copy in place is this record's. */
  async function pull(record: ArtifactRecord): Promise<void> {
    const deployed = await deps.s3.head(deps.deploymentBucket, record.objectKey);
    if (deployed?.metadata?.['vouch-record'] !== `${record.objectKey}#${record.version}`) return;
    await deps.s3.delete(deps.deploymentBucket, vsaKey(record.objectKey));
    await deps.s3.delete(deps.deploymentBucket, record.objectKey);
  }

  return { handle, sweepPending, recheckKey };
}

/**
 * The status a decision gives an artifact: verified when accepted; pending while all that is wrong is an
 * attestation or a co-signer not there yet (the decision is curable) and the deadline has not passed;
 * rejected otherwise. Only an allowed signer can make a decision incurable: junk anyone can upload never
 * turns a wait into a rejection.
 */
function statusFor(decision: Decision, at: Date, deadline: Date): ArtifactStatus {
  if (decision.accepted) return 'verified';
  return decision.curable && at < deadline ? 'pending' : 'rejected';
}

/** Let through although a rule failed: an audit-mode verdict, or an audit rule beside the enforced ones. */
const isFlagged = (decision: Decision) =>
  decision.accepted && (decision.verdict === 'fail' || (decision.auditReasons?.length ?? 0) > 0);

function decisionFields(decision: Decision) {
  return {
    reasons: decision.reasons,
    // Bounded: a record is one DynamoDB item (400 KB), and notes are about what anyone uploaded.
    notes: decision.notes.slice(0, 32),
    mode: decision.mode,
    flagged: isFlagged(decision),
    ...(decision.auditReasons ? { auditReasons: decision.auditReasons } : {}),
    rules: decision.rules,
    keyIds: decision.keyIds,
    identities: decision.identities,
    ...(decision.trustRoots ? { trustRoots: decision.trustRoots } : {}),
    attestations: decision.attestations.map((a) => a.source),
    policyDigest: decision.policyDigest,
  };
}

function keyHints(attestations: readonly Attestation[]): string[] {
  const hints = new Set<string>();
  for (const attestation of attestations) {
    for (const bundle of attestation.signatures) {
      const material = bundle.verificationMaterial.content;
      if (material.$case === 'publicKey') hints.add(material.publicKey.hint);
    }
  }
  return [...hints];
}

const versionOf = (version: ObjectVersion) => version.versionId ?? version.eTag ?? 'unversioned';

const createSha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');
