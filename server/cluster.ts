import cluster, { type Worker } from 'node:cluster';
import { openDatabase } from '../db';
import { prepareAuditSeal, startServer, type RunningServer } from './boot';
import type { Config } from './config';
import { openDocuments } from './documents/open';
import { flushLogs, logger } from './http/logger';
import { sealSecretsAtRest } from './oauth/sealed-secrets';
import { serveMetrics, type MetricsServer } from './ops/metrics-server';
import { loadOAuthSecrets } from './oauth/shared-secrets';
import { loadKeyRing } from './oauth/signing-keys';

/**
 * WORKERS > 1: the primary does what must happen once (migrations, the runtime login, the embedded
 * PostgreSQL and object store, first-boot keys and secrets), then forks the workers that serve HTTP
 * on the shared port. Worker 1 runs the once-per-deployment timers.
 */

const INDEX_ENV = 'FHIR_WORKER_INDEX';
/** Past a worker's own drain limit (SHUTDOWN_GRACE_MS), how long the primary waits before killing it. */
const STOP_MARGIN_MS = 5_000;
const log = logger.child({ component: 'cluster' });

export interface RunningPrimary {
  /** Process ids of the workers, in index order. */
  pids(): number[];
  close(): Promise<void>;
}

type WorkerMessage = { type: 'ready' };

/** The worker side: serve, tell the primary, and leave when the primary goes. */
export async function startWorker(cfg: Config): Promise<RunningServer> {
  const index = Number(process.env[INDEX_ENV]);
  const running = await startServer(cfg, { prepared: true, background: index === 1, serveMetrics: false });
  log.info({ worker: index, pid: process.pid }, 'worker ready');
  flushLogs();
  process.send?.({ type: 'ready' } satisfies WorkerMessage);
  // A primary killed without a chance to stop its workers closes the IPC channel.
  process.once('disconnect', () => { void running.close().finally(() => process.exit(0)); });
  return running;
}

export async function startPrimary(cfg: Config): Promise<RunningPrimary> {
  const db = await openDatabase(cfg);
  let docs: Awaited<ReturnType<typeof openDocuments>> | undefined;
  try {
    // First-boot state the workers would otherwise race to create.
    await sealSecretsAtRest(db.runtime, cfg);
    await prepareAuditSeal(cfg, db.adminUrl);
    await loadKeyRing(db.runtime, cfg.dataDir);
    await loadOAuthSecrets(db.runtime);
    // Starts the embedded store when S3_ENDPOINT is unset, and makes the bucket once.
    docs = await openDocuments(cfg, db.runtime, { sweeper: false });
  } catch (err) {
    await docs?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
  await db.runtime.destroy().catch(() => undefined); // the primary serves no request; its admin side stays
  const store = docs.embedded;
  // Workers reach the embedded store like any S3 endpoint; the embedded cluster they share by DATA_DIR.
  const shared: Record<string, string> = store
    ? { S3_ENDPOINT: store.endpoint, S3_ACCESS_KEY: store.accessKey, S3_SECRET_KEY: store.secretKey, S3_USE_SSL: '' }
    : {};

  const workers = new Map<number, Worker>();
  let stopping = false;
  // The workers' metrics, gathered over IPC and summed, on the primary's METRICS_PORT.
  let metrics: MetricsServer | undefined;
  const fork = (index: number): Promise<void> => new Promise((resolve, reject) => {
    const w = cluster.fork({ ...shared, [INDEX_ENV]: String(index) });
    workers.set(index, w);
    let ready = false;
    w.on('message', (m: WorkerMessage) => { if (m?.type === 'ready') { ready = true; resolve(); } });
    w.on('exit', (code, signal) => {
      if (workers.get(index) === w) workers.delete(index);
      if (!ready) { reject(new Error(`worker ${index} exited before it was ready (code ${code}, signal ${signal})`)); return; }
      if (stopping) return;
      log.error({ worker: index, code, signal }, 'worker exited; starting a replacement');
      fork(index).catch((err) => {
        if (stopping) return;
        log.fatal({ err }, 'replacement worker failed to start; stopping');
        void close().finally(() => process.exit(1));
      });
    });
  });

  const close = async (): Promise<void> => {
    stopping = true;
    const exits = [...workers.values()].map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) { resolve(); return; }
      const kill = setTimeout(() => w.process.kill('SIGKILL'), cfg.shutdownGraceMs + STOP_MARGIN_MS);
      w.once('exit', () => { clearTimeout(kill); resolve(); });
      w.process.kill('SIGTERM');
    }));
    await Promise.all(exits);
    await metrics?.close();
    await docs?.close();
    await db.close();
  };

  try {
    if (cfg.metrics) metrics = await serveMetrics({ ...cfg.metrics, cluster: true });
    await Promise.all(Array.from({ length: cfg.workers }, (_, i) => fork(i + 1)));
  } catch (err) {
    await close();
    throw err;
  }
  return { pids: () => [...workers.entries()].sort(([a], [b]) => a - b).map(([, w]) => w.process.pid ?? 0), close };
}
