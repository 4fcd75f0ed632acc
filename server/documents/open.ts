import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { portBusy } from '../../db/embedded';
import type { Config, S3Endpoint } from '../config';
import { logger as rootLogger } from '../http/logger';
import { persistentSecret } from '../../db/secrets';
import { sweepOrphans } from './cleanup';
import { EmbeddedS3, type RunningEmbeddedS3 } from './embedded-s3';
import { ObjectStore, type ObjectStoreConfig } from './object-store';
import { DocumentService } from './service';

/**
 * Document storage from configuration, chosen once: S3_ENDPOINT (MinIO, S3, ...) or, unset, the
 * embedded store on a fixed loopback port with its data under DATA_DIR/s3 and credentials generated
 * into DATA_DIR/secrets. Either way the same ObjectStore code talks to it.
 *
 * A store that is down at start does not stop the server: FHIR without documents keeps working,
 * document uploads answer 503, reads mark attachments unavailable, and the bucket is ensured on
 * the first document operation after the store comes back.
 */

export interface OpenDocuments {
  service: DocumentService;
  embedded?: RunningEmbeddedS3;
  close(): Promise<void>;
}

const SWEEP_EVERY_MS = 15 * 60_000;
const log = rootLogger.child({ component: 'documents' });

function storeConfig(cfg: Config, at: S3Endpoint, accessKey: string, secretKey: string): ObjectStoreConfig {
  const d = cfg.documents;
  return {
    endPoint: at.host, port: at.port, useSSL: at.useSSL, accessKey, secretKey,
    bucket: d.bucket, region: d.region, pathStyle: d.pathStyle, linkTtlSeconds: d.linkTtl, sse: d.sse,
  };
}

export function originOf(at: S3Endpoint): string {
  return `${at.useSSL ? 'https' : 'http'}://${at.host}:${at.port}`;
}

/** Where the embedded store's first port is kept, so a restart serves the signed links minted before it. */
const PORT_FILE = 'embedded-s3-port';

/**
 * The embedded store on EMBEDDED_S3_PORT or, unset, on the port it got at its first start (kept in
 * DATA_DIR): a signed link names its host and port, so a new port would break every link handed out.
 */
async function startEmbeddedStore(cfg: Config, accessKey: string, secretKey: string): Promise<RunningEmbeddedS3> {
  const file = path.join(cfg.dataDir, PORT_FILE);
  const kept = fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8').trim()) : undefined;
  const port = cfg.documents.embeddedPort ?? (kept !== undefined && Number.isInteger(kept) && kept > 0 && kept < 65536 ? kept : 0);
  if (port !== 0 && await portBusy(port)) {
    throw new Error(cfg.documents.embeddedPort
      ? `embedded object store port ${port} is busy: set EMBEDDED_S3_PORT to a free port`
      : `embedded object store port ${port} (kept in ${file} so signed links survive restarts) is busy: free it, or set EMBEDDED_S3_PORT to another port (links minted before will not open)`);
  }
  const running = await new EmbeddedS3({ port, directory: path.join(cfg.dataDir, 's3'), accessKey, secretKey }).start();
  if (!cfg.documents.embeddedPort && running.port !== kept) fs.writeFileSync(file, `${running.port}\n`);
  return running;
}

/** `sweeper: false` leaves the orphan sweeper to another process of the same deployment. */
export async function openDocuments(cfg: Config, db: Knex, { sweeper = true } = {}): Promise<OpenDocuments> {
  const d = cfg.documents;
  let embedded: RunningEmbeddedS3 | undefined;
  let endpoint = d.endpoint;
  let accessKey = d.accessKey;
  let secretKey = d.secretKey;
  if (!endpoint) {
    accessKey ??= persistentSecret(cfg.dataDir, 's3-access-key', 15);
    secretKey ??= persistentSecret(cfg.dataDir, 's3-secret-key');
    embedded = await startEmbeddedStore(cfg, accessKey, secretKey);
    endpoint = { host: embedded.host, port: embedded.port, useSSL: false };
  }
  if (!accessKey || !secretKey) throw new Error('document storage credentials are missing'); // config.ts refuses this earlier
  const store = new ObjectStore(storeConfig(cfg, endpoint, accessKey, secretKey));
  const signer = d.publicEndpoint ? new ObjectStore(storeConfig(cfg, d.publicEndpoint, accessKey, secretKey)) : undefined;
  const service = new DocumentService({
    store, signer, linkOrigin: originOf(d.publicEndpoint ?? endpoint), pathStyle: d.pathStyle, linkTtl: d.linkTtl,
  });
  const sweep = async () => {
    if (await service.ensureReady()) await sweepOrphans(db, service, { olderThanMinutes: d.orphanAgeMinutes });
  };
  if (!(await service.ensureReady(true))) {
    log.warn('document storage is down at start: serving FHIR without documents until it answers');
  }
  let timer: NodeJS.Timeout | undefined;
  if (sweeper) {
    void sweep().catch((err) => log.error({ err }, 'document sweep failed'));
    timer = setInterval(() => { sweep().catch((err) => log.error({ err }, 'document sweep failed')); }, SWEEP_EVERY_MS);
    timer.unref();
  }
  return {
    service,
    embedded,
    close: async () => {
      clearInterval(timer);
      await embedded?.stop();
    },
  };
}
