import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openDatabase, type Database } from '../db';
import { createApp } from './app';
import { loadOrCreateSigningKey, type SigningKey } from './auth/keys';
import type { Config } from './config';
import { warmUpValidators } from './fhir/validation';
import { logger } from './http/logger';
import { persistentSecret } from './secrets';

export interface RunningServer {
  cfg: Config;
  db: Database;
  keys: SigningKey[];
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

/** config -> database (migrate, provision, check) -> keys -> validators -> listen. */
export async function startServer(cfg: Config): Promise<RunningServer> {
  logger.level = cfg.logLevel;
  const db = await openDatabase(cfg);
  try {
    const keys = [await loadOrCreateSigningKey(cfg.dataDir)];
    const pageSecret = cfg.pageSecret ?? persistentSecret(cfg.dataDir, 'page-secret');
    warmUpValidators();
    const app = createApp({ cfg, db: db.runtime, keys, pageSecret });
    const server = http.createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, cfg.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return {
      cfg, db, keys, server,
      url: `http://${cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host}:${port}`,
      close: async () => {
        await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
