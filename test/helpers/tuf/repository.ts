import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';

/** An Ed25519 TUF key: its ID, its public half as root.json lists it, and a signer. */
interface TufKey {
  readonly id: string;
  readonly key: Key;
  readonly privateKey: KeyObject;
}

function tufKey(): TufKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const id = createHash('sha256').update(raw).digest('hex');
  return {
    id,
    privateKey,
    key: new Key({ keyID: id, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: raw } }),
  };
}

const signer = (key: TufKey) => (data: Buffer) =>
  new Signature({ keyID: key.id, sig: sign(null, data, key.privateKey).toString('hex') });

const SPEC_VERSION = '1.0.31';
const DAY = 86_400_000;
const expiresIn = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const json = (metadata: Metadata<Root | Timestamp | Snapshot | Targets>) =>
  Buffer.from(JSON.stringify(metadata.toJSON()));

type RoleName = 'root' | 'targets' | 'snapshot' | 'timestamp';

/**
 * A TUF repository built at test time, as Sigstore's are laid out (consistent snapshots, targets named by
 * their hash), holding one `trusted_root.json` target, and served on 127.0.0.1. Every change publishes
 * new metadata as a repository would; the `serve…` methods publish what an attacker or a broken mirror
 * would: an expired timestamp, an old one, one signed by the wrong key.
 */
export class TestTufRepository {
  private readonly keys: Record<RoleName, TufKey> = {
    root: tufKey(),
    targets: tufKey(),
    snapshot: tufKey(),
    timestamp: tufKey(),
  };
  private readonly files = new Map<string, Buffer>();
  private readonly roots: Buffer[] = [];
  private versions = { targets: 0, snapshot: 0, timestamp: 0 };
  private published: Buffer[] = [];

  constructor(trustedRoot: unknown) {
    this.signRoot([this.keys.root]);
    this.publishTrustedRoot(trustedRoot);
  }

  /** The first root.json: what a client is shipped with. */
  get initialRoot(): Buffer {
    return this.roots[0] as Buffer;
  }

  get rootVersion(): number {
    return this.roots.length;
  }

  get timestampVersion(): number {
    return this.versions.timestamp;
  }

  /** A new trusted_root.json target: new targets, snapshot and timestamp versions. */
  publishTrustedRoot(trustedRoot: unknown): void {
    const content = Buffer.from(JSON.stringify(trustedRoot));
    const sha256 = createHash('sha256').update(content).digest('hex');
    this.files.set(`/targets/${sha256}.trusted_root.json`, content);
    const targets = new Metadata(
      new Targets({
        version: ++this.versions.targets,
        specVersion: SPEC_VERSION,
        expires: expiresIn(30 * DAY),
        targets: {
          'trusted_root.json': new TargetFile({
            path: 'trusted_root.json',
            length: content.length,
            hashes: { sha256 },
          }),
        },
      }),
    );
    targets.sign(signer(this.keys.targets));
    this.files.set(`/${this.versions.targets}.targets.json`, json(targets));
    const snapshot = new Metadata(
      new Snapshot({
        version: ++this.versions.snapshot,
        specVersion: SPEC_VERSION,
        expires: expiresIn(30 * DAY),
        meta: { 'targets.json': new MetaFile({ version: this.versions.targets }) },
      }),
    );
    snapshot.sign(signer(this.keys.snapshot));
    this.files.set(`/${this.versions.snapshot}.snapshot.json`, json(snapshot));
    this.publishTimestamp();
  }

  /** A new timestamp (same snapshot), valid for `validFor` ms from now; negative: already expired. */
  publishTimestamp(validFor = DAY, key: TufKey = this.keys.timestamp): void {
    const timestamp = new Metadata(
      new Timestamp({
        version: ++this.versions.timestamp,
        specVersion: SPEC_VERSION,
        expires: expiresIn(validFor),
        snapshotMeta: new MetaFile({ version: this.versions.snapshot }),
      }),
    );
    timestamp.sign(signer(key));
    const bytes = json(timestamp);
    this.published.push(bytes);
    this.files.set('/timestamp.json', bytes);
  }

  /** A freeze attack: the timestamp served has expired. */
  serveExpiredTimestamp(): void {
    this.publishTimestamp(-DAY);
  }

  /** A rollback: the timestamp served is an older (genuine, unexpired) one. */
  serveOldTimestamp(): void {
    const old = this.published.at(-2);
    if (!old) throw new Error('no older timestamp was published');
    this.files.set('/timestamp.json', old);
  }

  /** A newer timestamp signed by a key the root does not list for the role. */
  serveTimestampSignedByAnotherKey(): void {
    this.publishTimestamp(DAY, tufKey());
  }

  /** The current trusted_root.json target served with other bytes than the targets metadata signs. */
  serveTamperedTarget(): void {
    for (const [path, bytes] of this.files) {
      if (!path.startsWith('/targets/')) continue;
      const copy = Buffer.from(bytes);
      copy[copy.length - 2] = (copy[copy.length - 2] ?? 0) ^ 0x01;
      this.files.set(path, copy);
    }
  }

  /**
   * A root rotation: a new root version with new keys for root and timestamp (the timestamp key is the one
   * that signs most often, and so the one most often rotated), signed by the old and the new root keys.
   */
  rotateRoot(): void {
    const previous = this.keys.root;
    this.keys.root = tufKey();
    this.keys.timestamp = tufKey();
    this.signRoot([previous, this.keys.root]);
    this.publishTimestamp();
  }

  /** Serves the repository on 127.0.0.1 (any free port) until `close`. */
  async serve(): Promise<{ readonly url: string; close(): Promise<void>; readonly requests: string[] }> {
    const requests: string[] = [];
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      requests.push(path);
      const body = this.files.get(path);
      response.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      response.end(body ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      requests,
      close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
    };
  }

  private signRoot(signers: TufKey[]): void {
    // @tufjs/models does not export its Role class: the root is built from its JSON form.
    const role = (key: TufKey) => ({ keyids: [key.id], threshold: 1 });
    const { root, targets, snapshot, timestamp } = this.keys;
    const metadata = new Metadata(
      Root.fromJSON({
        _type: 'root',
        spec_version: SPEC_VERSION,
        version: this.roots.length + 1,
        expires: expiresIn(365 * DAY),
        consistent_snapshot: true,
        keys: Object.fromEntries([root, targets, snapshot, timestamp].map((k) => [k.id, k.key.toJSON()])),
        roles: {
          root: role(root),
          targets: role(targets),
          snapshot: role(snapshot),
          timestamp: role(timestamp),
        },
      }),
    );
    for (const key of signers) metadata.sign(signer(key), true);
    const bytes = json(metadata);
    this.roots.push(bytes);
    this.files.set(`/${this.roots.length}.root.json`, bytes);
  }
}
