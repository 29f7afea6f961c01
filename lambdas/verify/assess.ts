import { AsyncLocalStorage } from 'node:async_hooks';
import { dirname } from 'node:path';
import type { IndexedAttestation } from '#adapters/attestation-index.ts';
import { isMissing, type ObjectStore } from '#adapters/s3-store.ts';
import {
  type ArtifactRecord,
  type Attestation,
  artifactKeyBeside,
  attestationKeysBeside,
  type Decision,
  type Digests,
  evaluate,
  formatDigests,
  mapLimited,
  namedKeys,
  type ObjectVersion,
  type ParsedFile,
  parseAttestationFile,
  policyOf,
  type Reason,
  versionOf,
} from '#core/index.ts';
import type { StepContext } from './context.ts';

/** The artifact an assessment is about: its key and what digesting its bytes learnt. */
export interface ArtifactRef {
  readonly objectKey: string;
  readonly digests: Digests;
  readonly paeShaped?: boolean;
  /** Its size in bytes, for conditions. */
  readonly size?: number;
}

/** The artifact a record is about, to assess again from what was recorded (digests, not bytes). */
export const artifactOf = (record: ArtifactRecord): ArtifactRef => ({
  objectKey: record.objectKey,
  digests: record.digests,
  paeShaped: record.paeShaped ?? false,
  size: record.size,
});

/** An attestation file read for an assessment, kept to copy beside a promoted artifact. */
export interface GatheredInput {
  readonly version: ObjectVersion;
  readonly content: Buffer;
}

export interface Assessment {
  readonly decision: Decision;
  /** The attestation files the decision rests on (its `counted` attestations). */
  readonly inputs: readonly GatheredInput[];
  /** How many attestation files were found. */
  readonly found: number;
}

export interface LoadedFile {
  readonly version: ObjectVersion;
  readonly content: Buffer;
  readonly parsed: ParsedFile;
}

/** One attestation file to read: found through the index (with its trusted time) or beside the artifact. */
interface Source {
  readonly key: string;
  readonly versionId?: string;
  readonly indexed?: IndexedAttestation;
  readonly beside: boolean;
}

/**
 * Assessing an artifact: gather its attestations (by digest, and beside it), verify them, evaluate the
 * policy. The one place a decision is made; every caller (a new artifact, a waiting one, a promotion's
 * confirmation, a revocation re-check) asks here.
 */
export function createAssessor({ deps, suffixes, limits, now }: StepContext) {
  const reads = readsByInvocation();
  async function assess(artifact: ArtifactRef): Promise<Assessment> {
    const besideKeys = attestationKeysBeside(artifact.objectKey, suffixes);
    const indexed = await deps.index.attestationsFor(formatDigests(artifact.digests));
    const sources = prioritise(artifact.objectKey, indexed).map(
      (entry): Source => ({
        key: entry.objectKey,
        ...(entry.version.startsWith('"') ? {} : { versionId: entry.version }),
        indexed: entry,
        beside: besideKeys.includes(entry.objectKey),
      }),
    );
    const first = await evaluateSources(artifact, sources);
    // What the index found settles it: more attestations could not take an acceptance away.
    if (first.decision.accepted) return first;
    // Otherwise read what sits beside the artifact (KEY.sigstore.json, …) and is not indexed yet: its own
    // pipeline's word about it, which can settle now what the index would only settle later. A GET of a
    // missing key costs what a HEAD does.
    const known = new Set(sources.map((source) => source.key));
    const unseen = besideKeys.filter((key) => !known.has(key)).map((key): Source => ({ key, beside: true }));
    if (unseen.length === 0) return first;
    const second = await evaluateSources(artifact, [...unseen, ...sources]);
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

  async function evaluateSources(artifact: ArtifactRef, sources: readonly Source[]): Promise<Assessment> {
    let budget = limits.maxBytesPerEvaluation;
    const admit = (size: number) => {
      if (size > budget) return false;
      budget -= size;
      return true;
    };
    const considered = sources.slice(0, limits.maxAttestationsPerEvaluation);
    const loaded = await mapLimited(considered, 4, (source) => read(source, admit));
    const attestations: Attestation[] = [];
    const inputErrors: Reason[] = [];
    const files = new Map<string, GatheredInput>();
    let found = 0;
    for (const [i, file] of loaded.entries()) {
      const source = considered[i] as Source;
      if (!file) continue;
      found++;
      inputErrors.push(...file.parsed.errors);
      // The index entry's time is when S3 finished storing exactly that version; anything else read is
      // dated now, the latest it could have been stored.
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
    const policy = policyOf(deps.policy);
    await deps.keys.preload([...keyHints(attestations), ...namedKeys(policy)]);
    const decision = evaluate({
      artifact: {
        path: artifact.objectKey,
        digests: artifact.digests,
        paeShaped: artifact.paeShaped ?? false,
        ...(artifact.size === undefined ? {} : { size: artifact.size }),
      },
      attestations,
      inputErrors,
      policy,
      keys: deps.keys.lookup,
      ...(deps.pipelines ? { pipelines: deps.pipelines } : {}),
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

  /**
   * Reads and parses one attestation file; undefined when it is gone (deleted, or never there). `indexed`
   * names the version the index holds: read in this invocation already (an attestation indexed, then
   * its artifact assessed in the same batch), it is parsed again from those bytes, not read again.
   */
  async function read(
    source: {
      readonly key: string;
      readonly versionId?: string | undefined;
      readonly indexed?: IndexedAttestation;
    },
    admit?: (size: number) => boolean,
  ): Promise<LoadedFile | undefined> {
    const kept = source.indexed ? reads.get(source.key, source.indexed.version) : undefined;
    let result: Awaited<ReturnType<ObjectStore['readSmall']>>;
    if (kept) {
      result = admit && !admit(kept.content.length) ? { version: kept.version, tooLarge: true } : kept;
    } else {
      try {
        result = await deps.s3.readSmall(deps.stagingBucket, source.key, limits.maxAttestationBytes, {
          ...(source.versionId ? { versionId: source.versionId } : {}),
          ...(admit ? { admit } : {}),
        });
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      if (!('tooLarge' in result)) reads.keep(source.key, result);
    }
    if ('tooLarge' in result) {
      const reason: Reason = {
        code: 'LIMIT_EXCEEDED',
        message:
          result.version.size > limits.maxAttestationBytes
            ? `${source.key}: ${result.version.size} bytes exceeds the limit of ${limits.maxAttestationBytes}`
            : `${source.key}: not read, the attestations read for this artifact would pass ${limits.maxBytesPerEvaluation} bytes`,
        subject: source.key,
      };
      return {
        version: result.version,
        content: Buffer.alloc(0),
        parsed: { attestations: [], errors: [reason] },
      };
    }
    return {
      version: result.version,
      content: result.content,
      parsed: parseAttestationFile(result.content, source.key, limits),
    };
  }

  return { assess, read, invocation: reads.invocation };
}

/** Most bytes of attestation files one invocation keeps for reading again. */
const MAX_KEPT_BYTES = 32 * 1024 * 1024;

/**
 * Attestation files read during one invocation, by key and version (a version ID, or unversioned the
 * ETag the index recorded). Only the bytes are kept: each use parses them afresh, as assessments mark
 * what they parse. Outside an invocation nothing is kept; within one, at most MAX_KEPT_BYTES.
 */
function readsByInvocation() {
  const scopes = new AsyncLocalStorage<{ files: Map<string, GatheredInput>; bytes: number }>();
  const id = (key: string, version: string) => `${version}\n${key}`;
  return {
    invocation: <T>(fn: () => Promise<T>): Promise<T> => scopes.run({ files: new Map(), bytes: 0 }, fn),
    get: (key: string, version: string): GatheredInput | undefined =>
      scopes.getStore()?.files.get(id(key, version)),
    keep(key: string, file: GatheredInput): void {
      const scope = scopes.getStore();
      const version = file.version.versionId ?? file.version.eTag;
      if (!scope || !version || scope.bytes + file.content.length > MAX_KEPT_BYTES) return;
      if (scope.files.has(id(key, version))) return;
      scope.files.set(id(key, version), file);
      scope.bytes += file.content.length;
    },
  };
}

export type Assessor = ReturnType<typeof createAssessor>;

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
