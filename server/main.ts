import { ConfigError, loadConfig } from './config';
import { logger } from './http/logger';
import { startServer } from './boot';

/** Process entry: start, print how to get a token, and shut down cleanly on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const started = Date.now();
  let cfg;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`configuration error: ${err.message}\n`); process.exit(2); }
    throw err;
  }
  const running = await startServer(cfg);
  logger.info({ url: `${cfg.fhirBaseUrl}`, ms: Date.now() - started, database: cfg.databaseUrl ? 'DATABASE_URL' : 'embedded', documents: cfg.documents.endpoint ? 'S3_ENDPOINT' : 'embedded' }, 'FHIR server ready');
  process.stdout.write(`
FHIR R4 server ready at ${cfg.fhirBaseUrl} (started in ${Date.now() - started} ms; data in ${cfg.dataDir})

Get a token (works while the server runs):
  CLINIC=$(npm run --silent admin -- clinic create --name "North Clinic" | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
  USER=$(npm run --silent admin -- user create --clinic $CLINIC --email doctor@north.example --role doctor | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
  TOKEN=$(npm run --silent admin -- token --clinic $CLINIC --user $USER --scope "user/*.cruds")
  curl -H "Authorization: Bearer $TOKEN" ${cfg.fhirBaseUrl}/Patient

`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await running.close().catch((err) => logger.error({ err }, 'shutdown failed'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
