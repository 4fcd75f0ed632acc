import { logger as rootLogger, type Logger } from '../http/logger';
import { OperationOutcomeError, serviceUnavailable } from '../http/errors';
import { assertKeyInClinic, assertSignedUrlInClinic, type DocumentKeyParts } from './keys';
import type { ObjectStore } from './object-store';
import type { SignedLink } from './signed-link-cache';

/**
 * What the FHIR layer needs from document storage: readiness (bucket ensured, store answering),
 * guarded uploads and removals, and signed links that are checked against the caller's clinic
 * before they leave. One instance per app; the store behind it is MinIO, S3 or the embedded one.
 */

export interface DocumentServiceOptions {
  /** The store as this server reaches it. */
  store: ObjectStore;
  /** Signs links for the host browsers reach, when that differs (signing is local: no request). */
  signer?: ObjectStore;
  /** Where the signer's links point: `http(s)://host:port`. */
  linkOrigin: string;
  pathStyle: boolean;
  linkTtl: number;
  logger?: Logger;
  /** How long a health answer is trusted (a failed store call marks it down at once). */
  healthTtlMs?: number;
  /** A health probe slower than this counts as down, so reads never wait long for a dead store. */
  probeTimeoutMs?: number;
  /** After a failed ensureBucket, the next attempt waits at least this long. */
  retryMs?: number;
}

const unavailable = () => serviceUnavailable('Document storage is unavailable: retry later');

export class DocumentService {
  readonly store: ObjectStore;
  readonly linkTtl: number;
  private readonly signer: ObjectStore;
  private readonly origin: URL;
  private readonly pathStyle: boolean;
  private readonly log: Logger;
  private readonly healthTtlMs: number;
  private readonly probeTimeoutMs: number;
  private readonly retryMs: number;
  private ready = false;
  private ensuring: Promise<boolean> | undefined;
  private lastEnsureAt = 0;
  private health: { up: boolean; at: number } | undefined;
  private probing: Promise<boolean> | undefined;

  constructor(opts: DocumentServiceOptions) {
    this.store = opts.store;
    this.signer = opts.signer ?? opts.store;
    this.origin = new URL(opts.linkOrigin);
    this.pathStyle = opts.pathStyle;
    this.linkTtl = opts.linkTtl;
    this.log = opts.logger ?? rootLogger.child({ component: 'documents' });
    this.healthTtlMs = opts.healthTtlMs ?? 5000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
    this.retryMs = opts.retryMs ?? 5000;
  }

  get bucket(): string {
    return this.store.bucket;
  }

  /** Creates the bucket and proves it private; false while the store cannot be reached. Deduplicated. */
  ensureReady(force = false): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (this.ensuring) return this.ensuring;
    if (!force && Date.now() - this.lastEnsureAt < this.retryMs) return Promise.resolve(false);
    this.lastEnsureAt = Date.now();
    this.ensuring = this.store.ensureBucket().then(
      () => {
        this.ready = true;
        this.mark(true);
        this.log.info({ bucket: this.bucket }, 'document bucket ready');
        return true;
      },
      (err: unknown) => {
        this.mark(false);
        this.log.warn({ status: err instanceof OperationOutcomeError ? err.status : undefined, msg: err instanceof OperationOutcomeError ? err.message : undefined }, 'document storage is not ready');
        return false;
      },
    ).finally(() => { this.ensuring = undefined; });
    return this.ensuring;
  }

  /** For writes: 503 unless the bucket is ensured and the store was last seen answering. */
  async requireReady(): Promise<void> {
    if (!(await this.ensureReady())) throw unavailable();
    // A store marked down gets one fresh probe, so a recovered store is used again at once.
    if (this.health?.up === false && !(await this.probe())) throw unavailable();
  }

  /** For reads: whether links handed out now would work. Cached briefly; never throws. */
  async available(): Promise<boolean> {
    if (!(await this.ensureReady())) return false;
    if (this.health && Date.now() - this.health.at < this.healthTtlMs) return this.health.up;
    return this.probe();
  }

  async put(key: string, body: NodeJS.ReadableStream | Buffer, contentType: string, size?: number): Promise<{ size: number; sha1Base64: string }> {
    await this.requireReady();
    return this.tracked(this.store.put(key, body, contentType, size));
  }

  async remove(key: string): Promise<void> {
    await this.tracked(this.store.remove(key));
  }

  /** A signed GET link for a key of this clinic; both the key and the link pass the clinic guard. */
  async signFor(key: string, clinicId: string): Promise<SignedLink> {
    assertKeyInClinic(key, clinicId);
    const link = await this.signer.signedGetUrl(key, this.linkTtl);
    assertSignedUrlInClinic(link.url, clinicId, this.bucket);
    return link;
  }

  /** True when a URL points at our store (so it must be one of our links, in the caller's clinic). */
  isStoreUrl(url: string): boolean {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    if (u.protocol !== this.origin.protocol || u.port !== this.origin.port) return false;
    const host = u.hostname.toLowerCase();
    return host === this.origin.hostname || (!this.pathStyle && host === `${this.bucket}.${this.origin.hostname}`);
  }

  /** The key parts of one of our links, refused (403) when it is outside the caller's clinic. */
  parseLink(url: string, clinicId: string): DocumentKeyParts {
    return assertSignedUrlInClinic(url, clinicId, this.bucket);
  }

  private async tracked<T>(work: Promise<T>): Promise<T> {
    try {
      const out = await work;
      this.mark(true);
      return out;
    } catch (err) {
      if (err instanceof OperationOutcomeError && err.status === 503) this.mark(false);
      throw err;
    }
  }

  private probe(): Promise<boolean> {
    this.probing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.probeTimeoutMs); });
      try {
        const up = await Promise.race([this.store.healthy(), late]);
        this.mark(up);
        return up;
      } finally {
        clearTimeout(timer);
        this.probing = undefined;
      }
    })();
    return this.probing;
  }

  private mark(up: boolean): void {
    this.health = { up, at: Date.now() };
  }
}
