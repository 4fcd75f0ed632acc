import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXPIRY_SWEEP_MS, recordExpiredGrants } from './care/expiry';
import { ensureAuditPartitions, openDatabase, type Database } from '../db';
import { createApp, defaultReadiness } from './app';
import type { SigningKey } from './auth/keys';
import type { Config } from './config';
import { openDocuments } from './documents/open';
import type { DocumentService } from './documents/service';
import { exportFilesIn } from './documents/export-files';
import { EXPORT_EXPIRY_SWEEP_MS, removeExpiredExports } from './fhir/bulk/expiry';
import { failInterruptedExports } from './fhir/bulk/jobs';
import { STALE_SECONDS } from './fhir/bulk/runner';
import { warmUpValidators } from './fhir/validation';
import { logger } from './http/logger';
import { pruneExpired } from './oauth/adapter';
import { sealSecretsAtRest } from './oauth/sealed-secrets';
import { loadOAuthSecrets, type OAuthSecrets } from './oauth/shared-secrets';
import { type KeyRing, loadKeyRing } from './oauth/signing-keys';
import { watchPool, type PoolLike } from './ops/metrics';
import { hashRowsWrittenBeforeSealing } from './audit/legacy-hash';
import { applyRetention } from './audit/retention';
import type { AuditSealDeps } from './fhir/audit-operations';
import { Sealer } from './audit/sealer';
import { loadSealKey } from './audit/seal-key';
import { setAuditHashing } from './audit/writer';
import { objectStoreAnchors } from './documents/audit-anchors';
import { serveMetrics, type MetricsServer } from './ops/metrics-server';
import type { Readiness } from './ops/readiness';

export interface RunningServer {
  cfg: Config;
  db: Database;
  /** The published signing keys at start, the signing key first (tests mint tokens with [0]). */
  keys: SigningKey[];
  keyRing: KeyRing;
  oauthSecrets: OAuthSecrets;
  /** Document storage (the embedded store unless S3_ENDPOINT is set). */
  documents: DocumentService;
  server: http.Server;
  url: string;
  /** /readyz's state; close() marks it draining first. */
  readiness: Readiness;
  /** The separate /metrics listener, when METRICS_PORT is set (and this process serves it). */
  metrics?: MetricsServer;
  /** The audit sealer (it seals only while this process holds the deployment's sealer lock); unset with AUDIT_SEAL=false. */
  sealer?: Sealer;
  /** The checkpoint key and the anchor store (retention and tests use them); unset with AUDIT_SEAL=false. */
  seal?: AuditSealDeps;
  /**
   * Stops accepting, reports not ready, lets in-flight requests finish within SHUTDOWN_GRACE_MS,
   * then cuts what is left and closes the store and the database.
   */
  close(): Promise<void>;
}

/** How this process shares a deployment (server/cluster.ts); the defaults are one process doing all. */
export interface StartOptions {
  /** The database is migrated and the runtime login provisioned already (by a cluster's primary). */
  prepared?: boolean;
  /** Runs the once-per-deployment timers: OAuth pruning, audit partitions, the document sweeper. */
  background?: boolean;
  /** Serves METRICS_PORT itself (a cluster's workers leave it to the primary). */
  serveMetrics?: boolean;
}

/** config -> database (migrate, provision, check) -> document store -> keys -> validators -> listen. */
export async function startServer(cfg: Config, { prepared = false, background = true, serveMetrics: servesMetrics = true }: StartOptions = {}): Promise<RunningServer> {
  logger.level = cfg.logLevel;
  const db = await openDatabase(cfg, { prepare: !prepared });
  let docs: Awaited<ReturnType<typeof openDocuments>> | undefined;
  let metrics: MetricsServer | undefined;
  let sealer: Sealer | undefined;
  try {
    docs = await openDocuments(cfg, db.runtime, { sweeper: background });
    const documents = docs.service;
    await sealSecretsAtRest(db.runtime, cfg, { reseal: !prepared });
    const keyRing = await loadKeyRing(db.runtime, cfg.dataDir);
    const oauthSecrets = await loadOAuthSecrets(db.runtime);
    // Shared through the database, so a paging link from one node works on every other.
    const pageSecret = cfg.pageSecret ?? oauthSecrets.pageSecret;
    warmUpValidators();
    setAuditHashing(cfg.auditSeal.enabled);
    if (!prepared) await prepareAuditSeal(cfg, db.adminUrl);
    const seal = cfg.auditSeal.enabled ? { key: loadSealKey(cfg.dataDir, cfg.auditSeal.key), anchors: objectStoreAnchors(documents) } : undefined;
    // Every process tries for the sealer lock, so another takes over when the one sealing stops. It
    // holds its own connection (db.background), not one of the requests' pool.
    sealer = seal && new Sealer(db.background, seal.key, seal.anchors, logger.child({ component: 'audit-sealer' }), cfg.auditSeal.intervalMs,
      () => hashRowsWrittenBeforeSealing(db.adminUrl), cfg.auditSeal.anchorIntervalMs);
    sealer?.start();
    // Export jobs whose runner stopped with a previous process are failed, so their owners start again.
    if (background) await failInterruptedExports(db.runtime, STALE_SECONDS).catch((err) => logger.error({ err }, 'failing interrupted exports failed'));
    const expireExports = () => {
      removeExpiredExports(db.runtime, exportFilesIn(documents.store), cfg.bulkExportTtlHours).then(({ removed, kept, why }) => {
        if (removed) logger.info({ removed }, 'expired exports removed');
        if (kept) logger.warn({ kept, err: why }, 'expired exports kept for the next sweep: their files could not all be removed');
      }).catch((err) => logger.error({ err }, 'removing expired exports failed'));
    };
    if (background) expireExports();
    const readiness = defaultReadiness(db.runtime, documents);
    watchPool('runtime', (db.runtime.client as { pool: PoolLike }).pool);
    const app = createApp({ cfg, db: db.runtime, keys: keyRing, oauthSecrets, pageSecret, documents, readiness, seal });
    // Another node may rotate keys; expired OAuth artifacts are pruned; audit partitions are made ahead.
    const timers = [
      setInterval(() => { keyRing.reload().catch((err) => logger.error({ err }, 'signing key reload failed')); }, 60_000),
      ...(background ? [
        setInterval(() => { pruneExpired(db.runtime).catch((err) => logger.error({ err }, 'pruning OAuth state failed')); }, 600_000),
        // The coming months' audit partitions (rows would still land in the default partition without them).
        setInterval(() => { ensureAuditPartitions(db.adminUrl).catch((err) => logger.error({ err }, 'creating audit partitions failed')); }, 86_400_000),
        // Audit rows past their clinic's retention: exported, signed for and removed (README, "Audit integrity").
        ...(seal ? [setInterval(() => {
          applyRetention(db.adminUrl, seal.key, seal.anchors).then((cuts) => { if (cuts.length) logger.info({ cuts }, 'audit retention applied'); })
            .catch((err) => logger.error({ err }, 'audit retention failed'));
        }, 86_400_000)] : []),
        // Finished exports past BULK_EXPORT_TTL_HOURS: their files leave the store, their rows go.
        setInterval(expireExports, EXPORT_EXPIRY_SWEEP_MS),
        // Break-glass grants whose time ran out get their `expired` event (RLS stopped honouring them already).
        setInterval(() => { recordExpiredGrants(db.runtime).catch((err) => logger.error({ err }, 'recording expired break-glass grants failed')); }, EXPIRY_SWEEP_MS),
      ] : []),
    ];
    for (const t of timers) t.unref();
    const server = http.createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, cfg.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    if (cfg.metrics && servesMetrics) metrics = await serveMetrics(cfg.metrics);
    return {
      cfg, db, keys: keyRing.all(), keyRing, oauthSecrets, documents, server, readiness, metrics, sealer, seal,
      url: `http://${cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host}:${port}`,
      close: async () => {
        readiness.drain();
        for (const t of timers) clearInterval(t);
        await drain(server, cfg.shutdownGraceMs);
        await sealer?.stop();
        await metrics?.close();
        await docs?.close();
        await db.close();
      },
    };
  } catch (err) {
    // A start that fails after the sealer began (a busy PORT) must not leave it holding the process open.
    await sealer?.stop().catch(() => undefined);
    await metrics?.close().catch(() => undefined);
    await docs?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** Stops accepting and waits for in-flight requests, closing connections as they fall idle; cuts the rest after `graceMs`. */
async function drain(server: http.Server, graceMs: number): Promise<void> {
  const started = Date.now();
  let cut = false;
  const closed = new Promise<void>((resolve) => { server.close(() => resolve()); });
  // A keep-alive socket between requests holds nothing in flight: closed as soon as it is idle.
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => { cut = true; server.closeAllConnections(); }, graceMs);
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(deadline);
  }
  logger.info({ ms: Date.now() - started, cut }, cut ? 'drain limit reached: remaining connections cut' : 'in-flight requests drained');
}

/** Once per deployment, before any sealer: rows from before the seal get their hash, and the checkpoint key exists. */
export async function prepareAuditSeal(cfg: Config, adminUrl: string): Promise<void> {
  if (!cfg.auditSeal.enabled) return;
  const n = await hashRowsWrittenBeforeSealing(adminUrl);
  if (n) logger.info({ rows: n }, 'audit rows written before the seal were hashed');
  loadSealKey(cfg.dataDir, cfg.auditSeal.key);
}
