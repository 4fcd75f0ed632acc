import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { PassThrough, pipeline } from 'node:stream';
import * as Minio from 'minio';
import { logger as rootLogger, type Logger } from '../http/logger';
import { badRequest, notFound, OperationOutcomeError, serviceUnavailable, unprocessable } from '../http/errors';
import { assertExportKey, assertPrefixInClinicShape, assertValidKey, parseDocumentKey } from './keys';
import { SignedLinkCache } from './signed-link-cache';
import { checkUploadBuffer, MAX_UPLOAD_BYTES, readCheckedUpload } from './upload-checks';

/**
 * One small interface over the minio client: the same code path for MinIO, AWS S3 and the
 * embedded s3rver. Every store failure leaves here as an OperationOutcomeError (503 unless the
 * object is simply missing), never as a raw client or socket error.
 */

export interface ObjectStoreConfig {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  linkTtlSeconds: number /* <= 3600 */;
  /** Asks the store to encrypt each object it writes (SSE-S3); unset: the store's default. */
  sse?: 'AES256';
}

export interface ObjectStoreOptions {
  logger?: Logger;
  /** Socket inactivity limit per request; a silent store becomes a 503 instead of a hang. */
  requestTimeoutMs?: number;
  maxUploadBytes?: number;
}

export const MAX_LINK_TTL_SECONDS = 3600;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound']);
// Stores that cannot hold a bucket policy answer the policy calls with these.
const NO_POLICY_CODES = new Set(['NoSuchBucketPolicy', 'NotImplemented', 'MethodNotAllowed']);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Validated once at start; a bad setting names itself and what is accepted. */
function validateConfig(cfg: ObjectStoreConfig): ObjectStoreConfig {
  const fail = (setting: string, accepted: string) => {
    throw new Error(`object store: ${setting} must be ${accepted}`);
  };
  if (!cfg.endPoint || /[/:]/.test(cfg.endPoint)) fail('endPoint', 'a host name or IP without scheme or port');
  if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) fail('port', 'an integer 1-65535');
  if (typeof cfg.useSSL !== 'boolean') fail('useSSL', 'true or false');
  if (!cfg.accessKey || !cfg.secretKey) fail('accessKey/secretKey', 'non-empty (anonymous access is not allowed)');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(cfg.bucket)) fail('bucket', 'a 3-63 character S3 bucket name');
  if (!cfg.region) fail('region', 'set (e.g. us-east-1), so no location lookups are made');
  if (typeof cfg.pathStyle !== 'boolean') fail('pathStyle', 'true or false');
  if (!Number.isInteger(cfg.linkTtlSeconds) || cfg.linkTtlSeconds < 1 || cfg.linkTtlSeconds > MAX_LINK_TTL_SECONDS) {
    fail('linkTtlSeconds', `an integer 1-${MAX_LINK_TTL_SECONDS}`);
  }
  return cfg;
}

/** minio accepts a custom transport; this one destroys a request whose socket goes quiet. */
function transportWithTimeout(useSSL: boolean, timeoutMs: number, agent: http.Agent): Minio.ClientOptions['transport'] {
  const base = useSSL ? https : http;
  const request = (options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void) => {
    const req = base.request({ ...options, agent }, callback);
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('object store timed out'), { code: 'ETIMEDOUT' })));
    return req;
  };
  // minio only ever calls request(options, callback); the cast drops the overloads it never uses.
  return { request } as unknown as Minio.ClientOptions['transport'];
}

const ANCHOR_PREFIX = /^(audit-checkpoints|audit-retention)\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/$/;
const ANCHOR_KEY = /^(audit-checkpoints|audit-retention)\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/\d{16}\.json$/;
const ARCHIVE_KEY = /^audit-archive\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/\d{16}\.ndjson$/;
function assertAnchorKey(key: string): void {
  if (!ANCHOR_KEY.test(key)) throw badRequest('Invalid audit checkpoint key');
}

export class ObjectStore {
  private readonly cfg: ObjectStoreConfig;
  private readonly client: Minio.Client;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly maxUploadBytes: number;
  private readonly links = new SignedLinkCache();

  constructor(cfg: ObjectStoreConfig, opts: ObjectStoreOptions = {}) {
    this.cfg = validateConfig(cfg);
    this.logger = opts.logger ?? rootLogger.child({ component: 'object-store' });
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxUploadBytes = opts.maxUploadBytes ?? MAX_UPLOAD_BYTES;
    const agent = new (cfg.useSSL ? https : http).Agent({ keepAlive: true, maxSockets: 64 });
    this.client = new Minio.Client({
      endPoint: cfg.endPoint,
      port: cfg.port,
      useSSL: cfg.useSSL,
      accessKey: cfg.accessKey,
      secretKey: cfg.secretKey,
      region: cfg.region,
      pathStyle: cfg.pathStyle,
      transport: transportWithTimeout(cfg.useSSL, this.timeoutMs, agent),
      // minio's retry logs with console.warn; a 503 goes back to the caller to retry instead.
      retryOptions: { disableRetry: true },
    });
  }

  get bucket(): string {
    return this.cfg.bucket;
  }

  /** Creates the bucket if missing, removes any bucket policy, then proves anonymous access is refused. */
  async ensureBucket(): Promise<void> {
    const { bucket, region } = this.cfg;
    await this.call('ensureBucket', async () => {
      if (!(await this.client.bucketExists(bucket))) await this.client.makeBucket(bucket, region);
      await this.ignoring(NO_POLICY_CODES, () => this.client.setBucketPolicy(bucket, ''));
      const policy = await this.ignoring(NO_POLICY_CODES, () => this.client.getBucketPolicy(bucket));
      if (policy && policy.trim() !== '' && policy.trim() !== '{}') {
        throw serviceUnavailable(`Bucket ${bucket} still has a bucket policy after removal`);
      }
    });
    await this.assertAnonymousRefused();
  }

  async put(
    key: string,
    body: NodeJS.ReadableStream | Buffer,
    contentType: string,
    size?: number,
  ): Promise<{ size: number; sha1Base64: string }> {
    assertValidKey(key);
    // Checked and collected before any request: a refused body never reaches the store.
    const checked = Buffer.isBuffer(body)
      ? { ...checkUploadBuffer(body, contentType, this.maxUploadBytes), body }
      : await readCheckedUpload(body, contentType, this.maxUploadBytes, size);
    if (size !== undefined && size !== checked.size) {
      throw unprocessable(`Attachment is ${checked.size} bytes, declared ${size}`);
    }
    await this.call('put', () =>
      this.client.putObject(this.cfg.bucket, key, checked.body, checked.size, {
        'Content-Type': checked.contentType,
        'x-amz-meta-sha1': checked.sha1Base64,
        ...(this.cfg.sse ? { 'X-Amz-Server-Side-Encryption': this.cfg.sse } : {}),
      }),
    );
    return { size: checked.size, sha1Base64: checked.sha1Base64 };
  }

  /** A link valid for at most ttlSeconds; the same link is handed out again for a short window. */
  async signedGetUrl(key: string, ttlSeconds = this.cfg.linkTtlSeconds): Promise<{ url: string; expiresAt: Date }> {
    assertValidKey(key);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LINK_TTL_SECONDS) {
      throw badRequest(`Link lifetime must be 1-${MAX_LINK_TTL_SECONDS} seconds`);
    }
    const cached = this.links.get(key, ttlSeconds);
    if (cached) return cached;
    // Whole seconds, because X-Amz-Date has no milliseconds: expiresAt is then exactly the store's view.
    const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const url = await this.call('sign', () =>
      this.client.presignedGetObject(this.cfg.bucket, key, ttlSeconds, {}, signedAt),
    );
    const link = { url, expiresAt: new Date(signedAt.getTime() + ttlSeconds * 1000) };
    this.links.set(key, ttlSeconds, signedAt, link);
    return link;
  }

  async get(key: string): Promise<NodeJS.ReadableStream> {
    assertValidKey(key);
    return this.streamOf(key);
  }

  /** A bulk export file: NDJSON the server wrote itself (no upload checks), under `exports/` (keys.ts). */
  async putExportFile(key: string, body: Buffer): Promise<void> {
    assertExportKey(key);
    await this.call('put', () => this.client.putObject(this.cfg.bucket, key, body, body.length, {
      'Content-Type': 'application/fhir+ndjson',
      ...(this.cfg.sse ? { 'X-Amz-Server-Side-Encryption': this.cfg.sse } : {}),
    }));
  }

  async getExportFile(key: string): Promise<NodeJS.ReadableStream> {
    assertExportKey(key);
    return this.streamOf(key);
  }

  async removeExportFile(key: string): Promise<void> {
    assertExportKey(key);
    await this.call('remove', () => this.client.removeObject(this.cfg.bucket, key));
  }

  /** The keys under an export job's prefix (keys.ts exportJobPrefix), each checked. */
  async listExportFiles(prefix: string): Promise<string[]> {
    if (!/^exports\/[0-9a-f-]{36}\/[0-9a-f-]{36}\/$/.test(prefix)) throw badRequest('Invalid export storage prefix');
    const keys: string[] = [];
    for await (const item of this.listChecked(prefix)) { assertExportKey(item.key); keys.push(item.key); }
    return keys;
  }

  private async streamOf(key: string): Promise<NodeJS.ReadableStream> {
    const source = await this.call('get', () => this.client.getObject(this.cfg.bucket, key));
    // A store failing mid-download must also reach the caller as a 503, not a socket error.
    const out = new PassThrough();
    source.on('error', (err) => out.destroy(this.translate('get', err)));
    // pipeline, so a reader that gives up also releases the store connection.
    pipeline(source, out, () => undefined);
    return out;
  }

  async remove(key: string): Promise<void> {
    assertValidKey(key);
    this.links.forget(key);
    await this.call('remove', () => this.client.removeObject(this.cfg.bucket, key));
  }

  /**
   * Audit checkpoints anchored outside the database (server/audit/sealer.ts), under their own
   * prefix `audit-checkpoints/{clinic}/`: never a document key, so no document link can reach them.
   */
  async putAnchor(key: string, body: string): Promise<void> {
    assertAnchorKey(key);
    const data = Buffer.from(body, 'utf8');
    await this.call('put', () => this.client.putObject(this.cfg.bucket, key, data, data.length, {
      'Content-Type': 'application/json',
      ...(this.cfg.sse ? { 'X-Amz-Server-Side-Encryption': this.cfg.sse } : {}),
    }));
  }

  /** Expired audit rows, exported before retention removes them (NDJSON, streamed from a file). */
  async putArchiveFile(key: string, file: string): Promise<void> {
    if (!ARCHIVE_KEY.test(key)) throw badRequest('Invalid audit archive key');
    const size = (await fs.promises.stat(file)).size;
    await this.call('put', () => this.client.putObject(this.cfg.bucket, key, fs.createReadStream(file), size, {
      'Content-Type': 'application/x-ndjson',
      ...(this.cfg.sse ? { 'X-Amz-Server-Side-Encryption': this.cfg.sse } : {}),
    }));
  }

  async getAnchor(key: string): Promise<string> {
    if (!ANCHOR_KEY.test(key) && !ARCHIVE_KEY.test(key)) throw badRequest('Invalid audit checkpoint key');
    const source = await this.call('get', () => this.client.getObject(this.cfg.bucket, key));
    const chunks: Buffer[] = [];
    for await (const c of source as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  async anchorKeys(prefix: string): Promise<string[]> {
    if (!ANCHOR_PREFIX.test(prefix)) throw badRequest('Invalid audit checkpoint prefix');
    const keys: string[] = [];
    try {
      for await (const item of this.client.listObjectsV2(this.cfg.bucket, prefix, true) as AsyncIterable<Minio.BucketItem>) if (item.name) keys.push(item.name);
    } catch (err) {
      throw this.translate('list', err);
    }
    return keys.sort();
  }

  /** The prefix is checked on the call itself, not on first iteration. */
  list(prefix: string): AsyncIterable<{ key: string; lastModified: Date }> {
    return this.listChecked(assertPrefixInClinicShape(prefix));
  }

  private async *listChecked(prefix: string): AsyncIterable<{ key: string; lastModified: Date }> {
    const stream = this.client.listObjectsV2(this.cfg.bucket, prefix, true);
    try {
      for await (const item of stream as AsyncIterable<Minio.BucketItem>) {
        if (item.name && item.lastModified) yield { key: item.name, lastModified: item.lastModified };
      }
    } catch (err) {
      throw this.translate('list', err);
    }
  }

  /** Every object of every clinic, for maintenance only (the orphan sweep); keys of any other shape are skipped. */
  async *listAllClinics(): AsyncIterable<{ key: string; lastModified: Date }> {
    for await (const item of this.listChecked('clinics/')) if (parseDocumentKey(item.key)) yield item;
  }

  async healthy(): Promise<boolean> {
    try {
      return await this.client.bucketExists(this.cfg.bucket);
    } catch (err) {
      this.logger.warn({ code: errorCode(err) }, 'object store health check failed');
      return false;
    }
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(op, err);
    }
  }

  private async ignoring<T>(codes: Set<string>, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (codes.has(errorCode(err) ?? '')) return undefined;
      throw err;
    }
  }

  private translate(op: string, err: unknown): OperationOutcomeError {
    if (err instanceof OperationOutcomeError) return err;
    const code = errorCode(err);
    if (code && NOT_FOUND_CODES.has(code)) return notFound('Document content not found');
    // Code only: messages from the store can echo keys, which carry patient ids.
    this.logger.warn({ op, code }, 'object store request failed');
    return serviceUnavailable(`Document storage is unavailable (${op})`);
  }

  /** Anonymous list and read must both be refused; a 404 on a random key means reads are public. */
  private async assertAnonymousRefused(): Promise<void> {
    const { useSSL, endPoint, port, bucket, pathStyle } = this.cfg;
    const origin = `${useSSL ? 'https' : 'http'}://${pathStyle ? endPoint : `${bucket}.${endPoint}`}:${port}`;
    const base = pathStyle ? `${origin}/${bucket}` : origin;
    const probe = `clinics/${randomUUID()}/patients/${randomUUID()}/${randomUUID()}/${randomUUID()}`;
    for (const url of [`${base}/?list-type=2`, `${base}/${probe}`]) {
      let status: number;
      try {
        const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        throw this.translate('ensureBucket', err);
      }
      if (status !== 401 && status !== 403) {
        this.logger.error({ bucket, status }, 'object store bucket answers anonymous requests');
        throw serviceUnavailable(`Bucket ${bucket} is not private: an anonymous request got HTTP ${status}`);
      }
    }
  }
}
