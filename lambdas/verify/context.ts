import type { AttestationIndex } from '#adapters/attestation-index.ts';
import type { RegistryKeyCache } from '#adapters/key-registry.ts';
import type { RecordStore } from '#adapters/records.ts';
import type { ObjectStore } from '#adapters/s3-store.ts';
import {
  type ArtifactStatus,
  DEFAULT_ATTESTATION_SUFFIXES,
  DEFAULT_LIMITS,
  DEFAULT_VSA_VALIDITY_SECONDS,
  type DigestAlgorithm,
  type EventPublisher,
  type Limits,
  type PipelineScope,
  type Policy,
  type PolicySource,
  type Reason,
  type SignFn,
  type TrustRoot,
  type TrustRootSet,
} from '#core/index.ts';
import { createSummarySigner, type SummarySigner } from './summaries.ts';

/** The record repository, as the pipeline uses it. */
export type RecordRepository = Pick<
  RecordStore,
  | 'get'
  | 'create'
  | 'transition'
  | 'annotate'
  | 'claimPromotion'
  | 'releasePromotion'
  | 'claimDeployment'
  | 'byKey'
  | 'byLegacyStatus'
  | 'byKeyId'
  | 'inStatus'
  | 'markDue'
  | 'dueBefore'
  | 'clearDue'
>;

/** The attestation index, as the pipeline uses it. */
export type AttestationIndexPort = Pick<
  AttestationIndex,
  'add' | 'attestationsFor' | 'addWaiter' | 'waitersFor' | 'removeWaiter'
>;

/** Registry keys, loaded before a synchronous evaluation looks them up. */
export type KeySource = Pick<RegistryKeyCache, 'preload' | 'refresh' | 'invalidate' | 'lookup'>;

export interface PipelineDeps {
  readonly s3: ObjectStore;
  readonly records: RecordRepository;
  readonly index: AttestationIndexPort;
  readonly keys: KeySource;
  /** The policy, or where the current one comes from (read once per evaluation). */
  readonly policy: Policy | PolicySource;
  /** Who owns which object keys; absent before pipelines (every registry key in scope). */
  readonly pipelines?: readonly PipelineScope[];
  /** The Sigstore roots keyless signatures verify under, by instance (read on each evaluation). */
  readonly trustRoot: TrustRoot | TrustRootSet;
  /** Signs verification summaries with the pipeline's own KMS key. */
  readonly vsaSigner: SignFn;
  /** How long a verification summary is valid after it is signed. @default DEFAULT_VSA_VALIDITY_SECONDS */
  readonly vsaValiditySeconds?: number;
  readonly stagingBucket: string;
  readonly deploymentBucket: string;
  /** How long an artifact with no attestation yet waits before it is rejected. */
  readonly pendingDeadlineSeconds: number;
  /** Digests computed for every artifact, and so the digests attestations are found by. */
  readonly digestAlgorithms?: readonly DigestAlgorithm[];
  readonly attestationSuffixes?: readonly string[];
  readonly limits?: Limits;
  readonly now?: () => Date;
  /** Decision events: where they go, and who hears of a failure to send them. */
  readonly events?: {
    readonly publish: EventPublisher;
    readonly failed: (error: unknown) => void;
    readonly pipelineOf?: (objectKey: string) => string | undefined;
  };
}

/** What one step of the pipeline did with one object. */
export interface Outcome {
  readonly objectKey: string;
  readonly kind: 'artifact' | 'attestation' | 'ignored';
  readonly status?: ArtifactStatus;
  readonly reasons?: readonly Reason[];
  /** Artifacts re-evaluated because this attestation arrived. */
  readonly reevaluated?: readonly Outcome[];
}

/** The dependencies with every default filled in: what each step of the pipeline is built from. */
export interface StepContext {
  readonly deps: PipelineDeps;
  /** Signs the summaries of the artifacts an invocation promotes together. */
  readonly summaries: SummarySigner;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly suffixes: readonly string[];
  readonly limits: Limits;
  readonly now: () => Date;
}

export function contextOf(deps: PipelineDeps): StepContext {
  const now = deps.now ?? (() => new Date());
  return {
    deps,
    summaries: createSummarySigner({
      sign: deps.vsaSigner,
      now,
      validitySeconds: deps.vsaValiditySeconds ?? DEFAULT_VSA_VALIDITY_SECONDS,
      resourceUri: `s3://${deps.stagingBucket}`,
    }),
    algorithms: deps.digestAlgorithms ?? ['sha256'],
    suffixes: deps.attestationSuffixes ?? DEFAULT_ATTESTATION_SUFFIXES,
    limits: deps.limits ?? DEFAULT_LIMITS,
    now,
  };
}

export const ignored = (objectKey: string): Outcome => ({ objectKey, kind: 'ignored' });
