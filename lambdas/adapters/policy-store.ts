import type { KeyObject } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  MAX_POLICY_BUNDLE_BYTES,
  type OpenedPolicyBundle,
  openPolicyBundle,
  type Policy,
  type PolicySource,
  VouchError,
} from '#core/index.ts';
import { isMissing } from './s3-store.ts';

/**
 * Signed policy bundles in S3, one object per version, `PREFIX v<10-digit version>.sigstore.json`, never
 * overwritten (conditional writes; the stack's bucket policy refuses unconditional ones and deletes). The
 * object name only says where to look: the version that counts is the one inside the signature.
 */
export interface PolicyStore {
  /** Version numbers stored after `after` (all when undefined), ascending. */
  versions(after?: number): Promise<number[]>;
  /** A version's bytes; undefined when it is gone or too large to be a policy bundle. */
  read(version: number): Promise<Buffer | undefined>;
  /** Stores a new version; refuses (PolicyVersionExists) to replace one already stored. */
  write(version: number, content: Buffer): Promise<void>;
  describe(version?: number): string;
}

export const DEFAULT_POLICY_PREFIX = 'policy/';
const NAME = /^v(\d{10})\.sigstore\.json$/;
export const policyObjectName = (version: number) => `v${String(version).padStart(10, '0')}.sigstore.json`;

export class PolicyVersionExists extends Error {
  constructor(where: string) {
    super(`${where} exists already; policy versions are never replaced: sign a higher version`);
    this.name = 'PolicyVersionExists';
  }
}

export class S3PolicyStore implements PolicyStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(client: S3Client, bucket: string, prefix = DEFAULT_POLICY_PREFIX) {
    this.client = client;
    this.bucket = bucket;
    this.prefix = prefix;
  }

  async versions(after?: number): Promise<number[]> {
    const found: number[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix,
          ...(after === undefined ? {} : { StartAfter: `${this.prefix}${policyObjectName(after)}` }),
          ContinuationToken: token,
        }),
      );
      for (const item of page.Contents ?? []) {
        const match = NAME.exec((item.Key ?? '').slice(this.prefix.length));
        const version = match ? Number(match[1]) : undefined;
        if (version !== undefined && (after === undefined || version > after)) found.push(version);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort((a, b) => a - b);
  }

  async read(version: number): Promise<Buffer | undefined> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${policyObjectName(version)}` }),
      );
      if ((response.ContentLength ?? 0) > MAX_POLICY_BUNDLE_BYTES) {
        await response.Body?.transformToByteArray().catch(() => undefined);
        return undefined;
      }
      return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async write(version: number, content: Buffer): Promise<void> {
    const key = `${this.prefix}${policyObjectName(version)}`;
    // Checked first as well: not every S3-compatible store honours If-None-Match.
    if ((await this.versions(version - 1)).includes(version))
      throw new PolicyVersionExists(this.describe(version));
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: content,
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
      if (status === 412 || (error as Error)?.name === 'PreconditionFailed')
        throw new PolicyVersionExists(this.describe(version));
      throw error;
    }
  }

  describe(version?: number): string {
    return `s3://${this.bucket}/${this.prefix}${version === undefined ? '' : policyObjectName(version)}`;
  }
}

export interface CurrentPolicyOptions {
  /** How long a look at the store is reused. @default 60 s */
  readonly ttlMs?: number;
  /**
   * How long the verifier keeps deciding with the policy it holds while the store cannot be read; past
   * it, refresh fails (the invocation is retried) rather than decide with a policy that may be stale.
   * @default 15 minutes
   */
  readonly maxStaleMs?: number;
  /** Most versions read and verified in one refresh (newest first). @default 8 */
  readonly maxCandidates?: number;
  readonly now?: () => Date;
}

export interface PolicyStatus {
  readonly source: 'bundled' | 'store';
  readonly version?: number;
  readonly digest: string;
  readonly signedBy?: string;
  readonly createdAt?: string;
  /** When the store was last read successfully. */
  readonly checkedAt?: string;
  /** Versions refused, and why (unsigned, another key, older, unreadable). */
  readonly refused: readonly string[];
}

/**
 * The policy a verifier decides with: the newest version in the store whose signature the policy key
 * verifies, cached for `ttlMs`; never a version lower than one held (a process never goes back); the
 * bundled policy only when the store holds no version at all (first boot). A store that holds versions
 * none of which verifies stops the verifier rather than fall back.
 */
export class CurrentPolicy implements PolicySource {
  private held?: { policy: Policy; bundle?: OpenedPolicyBundle };
  private checkedAt?: number;
  private readonly refused: string[] = [];
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly maxCandidates: number;
  private readonly now: () => Date;
  private key?: Promise<KeyObject>;

  private readonly store: PolicyStore | undefined;
  private readonly bundled: () => Policy | Promise<Policy>;
  private readonly publicKey: () => Promise<KeyObject>;
  /** Refuses a policy this verifier cannot apply (e.g. one trusting an unconfigured Sigstore instance). */
  private readonly validate: (policy: Policy, where: string) => void;

  constructor(
    store: PolicyStore | undefined,
    bundled: () => Policy | Promise<Policy>,
    publicKey: () => Promise<KeyObject>,
    options: CurrentPolicyOptions = {},
    validate: (policy: Policy, where: string) => void = () => {},
  ) {
    this.store = store;
    this.bundled = bundled;
    this.publicKey = publicKey;
    this.validate = validate;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxStaleMs = options.maxStaleMs ?? 15 * 60_000;
    this.maxCandidates = options.maxCandidates ?? 8;
    this.now = options.now ?? (() => new Date());
  }

  current(): Policy {
    if (!this.held) throw new Error('the policy has not been loaded yet (refresh first)');
    return this.held.policy;
  }

  /** Looks at the store once the last look is older than the TTL (`force`: now); true when the policy changed. */
  async refresh(force = false): Promise<boolean> {
    if (!this.store) {
      if (this.held) return false;
      this.held = { policy: await this.bundled() };
      return true;
    }
    const now = this.now().getTime();
    if (!force && this.checkedAt !== undefined && now - this.checkedAt < this.ttlMs) return false;
    try {
      return await this.look(this.store);
    } catch (error) {
      const stale = this.checkedAt === undefined || now - this.checkedAt > this.maxStaleMs;
      if (!this.held || stale) throw error;
      return false;
    }
  }

  status(): PolicyStatus {
    const policy = this.current();
    const bundle = this.held?.bundle;
    return {
      source: bundle ? 'store' : 'bundled',
      ...(bundle ? { version: bundle.version, signedBy: bundle.signedBy, createdAt: bundle.createdAt } : {}),
      digest: policy.digest,
      ...(this.checkedAt === undefined ? {} : { checkedAt: new Date(this.checkedAt).toISOString() }),
      refused: [...this.refused],
    };
  }

  private async look(store: PolicyStore): Promise<boolean> {
    const heldVersion = this.held?.bundle?.version;
    const versions = await store.versions(heldVersion);
    let adopted: OpenedPolicyBundle | undefined;
    for (const version of versions.slice(-this.maxCandidates).reverse()) {
      const content = await store.read(version);
      const where = store.describe(version);
      if (!content) {
        this.refuse(`${where}: missing or larger than a policy bundle may be`);
        continue;
      }
      let opened: OpenedPolicyBundle;
      try {
        this.key ??= this.publicKey();
        opened = await openPolicyBundle(content, await this.key, where);
        this.validate(opened.policy, where);
      } catch (error) {
        if (!(error instanceof VouchError)) throw error;
        this.refuse(error.message);
        continue;
      }
      if (opened.version !== version) {
        this.refuse(`${where}: signed as version ${opened.version}, stored as ${version}: refused`);
        continue;
      }
      if (heldVersion !== undefined && opened.version <= heldVersion) {
        this.refuse(
          `${where}: version ${opened.version} is not newer than version ${heldVersion}, held: refused`,
        );
        continue;
      }
      adopted = opened;
      break;
    }
    if (adopted) this.held = { policy: adopted.policy, bundle: adopted };
    else if (!this.held) {
      if (versions.length > 0)
        throw new Error(
          `${store.describe()} holds ${versions.length} policy version(s) and none is validly signed by the policy key; the bundled policy is used only while the store is empty. ${this.refused.slice(-3).join('; ')}`,
        );
      this.held = { policy: await this.bundled() };
    }
    this.checkedAt = this.now().getTime();
    return adopted !== undefined;
  }

  private refuse(why: string) {
    if (!this.refused.includes(why)) this.refused.push(why);
    if (this.refused.length > 16) this.refused.shift();
  }
}
