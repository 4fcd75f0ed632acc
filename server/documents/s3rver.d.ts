// Types for the parts of @20minutes/s3rver 4.0.4 (plain JS, Koa-based) that embedded-s3.ts uses.

declare module '@20minutes/s3rver' {
  import type { Server } from 'node:http';
  import type { AddressInfo } from 'node:net';

  namespace S3rver {
    interface Options {
      address?: string;
      port?: number;
      silent?: boolean;
      serviceEndpoint?: string;
      directory?: string;
      resetOnClose?: boolean;
      allowMismatchedSignatures?: boolean;
      vhostBuckets?: boolean;
      configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
    }

    /** The subset of a Koa context the guard middleware touches. */
    interface Context {
      method: string;
      /** Still percent-encoded. */
      path: string;
      query: Record<string, string | string[] | undefined>;
      get(field: string): string;
      set(field: string, value: string): void;
      status: number;
      type: string;
      body: unknown;
    }

    type Middleware = (ctx: Context, next: () => Promise<void>) => unknown;
  }

  class S3rver {
    constructor(options?: S3rver.Options);
    /** Koa's middleware array, composed when the HTTP server is created in run(). */
    middleware: S3rver.Middleware[];
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }

  export = S3rver;
}

declare module '@20minutes/s3rver/lib/models/account' {
  /** Accepted credentials live in one process-wide registry keyed by access key id. */
  class AWSAccount {
    constructor(accountId: number, displayName: string);
    readonly accessKeys: Map<string, string>;
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
    revokeAccessKey(accessKeyId: string): void;
  }
  namespace AWSAccount {
    const registry: Map<string, AWSAccount>;
    const DUMMY_ACCOUNT: AWSAccount;
  }
  export = AWSAccount;
}
