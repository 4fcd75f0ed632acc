import { mkdir } from 'node:fs/promises';
import S3rver from '@20minutes/s3rver';
import AWSAccount from '@20minutes/s3rver/lib/models/account';
import { logger as rootLogger, type Logger } from '../http/logger';

/**
 * The zero-setup object store: @20minutes/s3rver in-process on 127.0.0.1. The server talks to it
 * through the same minio client it uses for MinIO, so signatures and expiry are really checked.
 */

export const EMBEDDED_S3_HOST = '127.0.0.1';
export const EMBEDDED_S3_DEFAULT_CREDENTIALS = {
  accessKey: 'clinic-embedded-store',
  secretKey: 'clinic-embedded-store-secret-key',
} as const;
// s3rver registers this pair at import time; it is public knowledge, so it is revoked.
const S3RVER_BUILT_IN_ACCESS_KEY = 'S3RVER';

export interface EmbeddedS3Options {
  /** 0 picks a free port; the real one is reported by start(). */
  port: number;
  directory: string;
  accessKey?: string;
  secretKey?: string;
  logger?: Logger;
}

export interface RunningEmbeddedS3 {
  endpoint: string;
  host: string;
  port: number;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

/** Why a request without a SigV4 signature is refused; undefined when it carries one. */
export function unsignedReason(ctx: Pick<S3rver.Context, 'get' | 'query'>): string | undefined {
  const q = ctx.query;
  const authorization = ctx.get('authorization');
  // s3rver only verifies what it detects with these exact, case-sensitive names; anything else it serves unsigned.
  const presigned = 'X-Amz-Algorithm' in q || 'X-Amz-Signature' in q;
  if ('Signature' in q || 'AWSAccessKeyId' in q) return 'signature version 2 is not accepted';
  if (authorization !== '' && presigned) return 'only one authentication mechanism is allowed';
  if (authorization !== '') {
    const ok = /^AWS4-HMAC-SHA256 Credential=[^,\s]+, ?SignedHeaders=[^,\s]+, ?Signature=[0-9a-f]{64}$/.test(authorization);
    return ok ? undefined : 'Authorization header is not AWS SigV4';
  }
  if (!presigned) return 'request is not signed';
  const expires = q['X-Amz-Expires'];
  if (q['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256') return 'X-Amz-Algorithm must be AWS4-HMAC-SHA256';
  if (typeof q['X-Amz-Signature'] !== 'string' || !/^[0-9a-f]{64}$/.test(q['X-Amz-Signature'])) {
    return 'X-Amz-Signature is malformed';
  }
  // s3rver treats a non-numeric X-Amz-Expires as "never expires".
  if (typeof expires !== 'string' || !/^[1-9][0-9]{0,5}$/.test(expires) || Number(expires) > 604800) {
    return 'X-Amz-Expires must be a whole number of seconds up to 604800';
  }
  return undefined;
}

/** s3rver maps keys straight onto its data directory, so a signed `../` key would write outside it. */
export function unsafePathReason(rawPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return 'path is not valid percent-encoding';
  }
  if (decoded.includes('\\') || decoded.includes('\0')) return 'path contains a backslash or NUL';
  if (decoded.split('/').some((segment) => segment === '.' || segment === '..')) return 'path contains a dot segment';
  return undefined;
}

function accessDeniedXml(message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`;
}

/** Koa middleware installed ahead of s3rver's own, which lets unsigned requests through. */
export function refuseUnsignedRequests(logger: Logger): S3rver.Middleware {
  return async function refuseUnsigned(ctx, next) {
    const reason = unsignedReason(ctx) ?? unsafePathReason(ctx.path);
    if (reason) {
      // No path in the log: keys carry patient ids.
      logger.warn({ method: ctx.method, reason }, 'embedded store refused an unsigned request');
      ctx.status = 403;
      ctx.type = 'application/xml';
      ctx.body = accessDeniedXml(`Access Denied: ${reason}`);
      return;
    }
    await next();
  };
}

// The credential registry is process-wide, so pairs are counted across running instances.
const registeredKeys = new Map<string, number>();

function registerKeyPair(accessKey: string, secretKey: string): void {
  const existing = AWSAccount.DUMMY_ACCOUNT.accessKeys.get(accessKey);
  if (existing !== undefined && existing !== secretKey && (registeredKeys.get(accessKey) ?? 0) > 0) {
    throw new Error(`embedded S3: access key ${accessKey} is already running with a different secret`);
  }
  if (accessKey !== S3RVER_BUILT_IN_ACCESS_KEY) AWSAccount.DUMMY_ACCOUNT.revokeAccessKey(S3RVER_BUILT_IN_ACCESS_KEY);
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
  registeredKeys.set(accessKey, (registeredKeys.get(accessKey) ?? 0) + 1);
}

function releaseKeyPair(accessKey: string): void {
  const left = (registeredKeys.get(accessKey) ?? 1) - 1;
  if (left > 0) {
    registeredKeys.set(accessKey, left);
    return;
  }
  registeredKeys.delete(accessKey);
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey(accessKey);
}

export class EmbeddedS3 {
  private readonly opts: Required<Omit<EmbeddedS3Options, 'logger'>>;
  private readonly logger: Logger;

  constructor(opts: EmbeddedS3Options) {
    const accessKey = opts.accessKey ?? EMBEDDED_S3_DEFAULT_CREDENTIALS.accessKey;
    const secretKey = opts.secretKey ?? EMBEDDED_S3_DEFAULT_CREDENTIALS.secretKey;
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new Error(`embedded S3 port must be 0 (any free port) or 1-65535, got ${String(opts.port)}`);
    }
    if (!opts.directory) throw new Error('embedded S3 directory must be set');
    if (!/^[A-Za-z0-9+/=._-]{3,128}$/.test(accessKey)) throw new Error('embedded S3 accessKey must be 3-128 safe characters');
    if (secretKey.length < 16) throw new Error('embedded S3 secretKey must be at least 16 characters');
    this.opts = { port: opts.port, directory: opts.directory, accessKey, secretKey };
    this.logger = opts.logger ?? rootLogger.child({ component: 'embedded-s3' });
  }

  async start(): Promise<RunningEmbeddedS3> {
    const { port, directory, accessKey, secretKey } = this.opts;
    await mkdir(directory, { recursive: true });
    const server = new S3rver({
      address: EMBEDDED_S3_HOST,
      port,
      directory,
      silent: true,
      allowMismatchedSignatures: false,
      vhostBuckets: false,
      resetOnClose: false,
    });
    // s3rver's request logger (koa-logger) prints object keys to the console once its winston
    // logger is closed by stop(); we are silent anyway, so it goes.
    server.middleware = server.middleware.filter((mw) => mw.name !== 'logger');
    // Koa composes `middleware` when run() creates the HTTP server, so unshift puts the guard first.
    server.middleware.unshift(refuseUnsignedRequests(this.logger));
    registerKeyPair(accessKey, secretKey);
    let address;
    try {
      address = await server.run();
    } catch (err) {
      releaseKeyPair(accessKey);
      throw err;
    }
    const realPort = address.port;
    this.logger.info({ port: realPort }, 'embedded object store listening');
    let stopped = false;
    return {
      endpoint: `http://${EMBEDDED_S3_HOST}:${realPort}`,
      host: EMBEDDED_S3_HOST,
      port: realPort,
      accessKey,
      secretKey,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        const closed = server.close();
        // Keep-alive sockets would hold close() open indefinitely.
        server.httpServer?.closeAllConnections();
        await closed;
        releaseKeyPair(accessKey);
      },
    };
  }
}
