// s3rver ships no types; only what Vouch uses is declared.
declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
    allowMismatchedSignatures?: boolean;
  }
  /** One S3 event record as s3rver emits it (object keys are not URL-encoded, unlike S3's). */
  interface S3rverEvent {
    Records: {
      eventVersion: string;
      eventSource: string;
      awsRegion: string;
      eventTime: string;
      eventName: string;
      s3: {
        bucket: { name: string; arn?: string };
        object: { key: string; size?: number; eTag?: string; sequencer?: string; versionId?: string };
      };
    }[];
  }
  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** The HTTP server `run` started (s3rver's own `close` is this server's `close`). */
    readonly httpServer?: import('node:http').Server;
    on(event: 'event', listener: (event: S3rverEvent) => void): this;
  }
  export default S3rver;
  export type { S3rverEvent, S3rverOptions };
}
