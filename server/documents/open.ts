import path from 'node:path';
import type { Knex } from 'knex';
import type { Config, S3Endpoint } from '../config';
import { logger as rootLogger } from '../http/logger';
import { persistentSecret } from '../secrets';
import { sweepOrphans } from './cleanup';
import { EmbeddedS3, type RunningEmbeddedS3 } from './embedded-s3';
import { ObjectStore, type ObjectStoreConfig } from './object-store';
import { DocumentService } from './service';

/**
 * Document storage from configuration, chosen once: S3_ENDPOINT (MinIO, S3, ...) or, unset, the
 * embedded store on a free loopback port with its data under DATA_DIR/s3 and credentials generated
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
    embedded = await new EmbeddedS3({ port: 0, directory: path.join(cfg.dataDir, 's3'), accessKey, secretKey }).start();
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
