import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { persistentSecret } from './secrets';
import { portBusy, startEmbeddedPostgres } from './embedded';
import { TunedPgClient } from './knex-client';
import { migrationSource } from './migrations';
import { APP_ROLE, AUTH_ROLE, OWNER_ROLE, SEALER_ROLE } from './roles';

/** What the database layer needs from the server's configuration (server/config.ts `Config` satisfies it). */
export interface DatabaseSettings {
  dataDir: string;
  /** Unset: the embedded cluster under `dataDir`. */
  databaseUrl?: string;
  embeddedPgPort: number;
  dbRuntimeUser: string;
  /** Unset: generated into `dataDir`. */
  dbRuntimePassword?: string;
  dbPoolMax: number;
  /** 'silent' keeps the embedded cluster's output off the console. */
  logLevel: string;
}

export interface Database {
  /** Pool of the runtime login: every request goes through it, inside `withClinic`. */
  runtime: Knex;
  /**
   * A one-connection pool of the same login for background work that keeps its connection (the
   * audit sealer holds its lock on it): it never takes a connection from requests.
   */
  background: Knex;
  /** Migration account URL (the CLI and maintenance use it; requests never do). */
  adminUrl: string;
  close(): Promise<void>;
}

function makeKnex(url: string, poolMax: number, tuned = false): Knex {
  return knexFactory({ client: tuned ? TunedPgClient : 'pg', connection: url, pool: { min: 0, max: poolMax } });
}

/** Where the migration account connects: DATABASE_URL, or the embedded cluster under DATA_DIR. */
export async function adminConnection(cfg: DatabaseSettings): Promise<{ url: string; stop(): Promise<void> }> {
  if (cfg.databaseUrl) return { url: cfg.databaseUrl, stop: async () => undefined };
  if (await portBusy(cfg.embeddedPgPort) && fs.existsSync(path.join(cfg.dataDir, 'pg', 'postmaster.pid'))) {
    // The server (or another CLI run) already runs this DATA_DIR's cluster: share it.
    const password = persistentSecret(cfg.dataDir, 'pg-superuser-password');
    return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${cfg.embeddedPgPort}/fhir`, stop: async () => undefined };
  }
  const pgDir = path.join(cfg.dataDir, 'pg');
  const handle = await startEmbeddedPostgres({ dir: pgDir, port: cfg.embeddedPgPort, quiet: cfg.logLevel === 'silent' });
  return { url: handle.adminUrl, stop: handle.stop };
}

/** Months of audit partitions kept ready ahead of the current one (each empty one costs every AuditEvent search). */
export const AUDIT_MONTHS_AHEAD = 2;

const ensurePartitionsSql = `set role ${OWNER_ROLE}; select audit_event_ensure_partitions(${AUDIT_MONTHS_AHEAD}); reset role;`;

/** Runs `work` on a one-connection pool of the migration account, closed afterwards. */
async function asAdmin<T>(adminUrl: string, work: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = makeKnex(adminUrl, 1);
  try {
    return await work(admin);
  } finally {
    await admin.destroy();
  }
}

export async function migrate(adminUrl: string): Promise<string[]> {
  return asAdmin(adminUrl, async (admin) => {
    const [, done] = await admin.migrate.latest({ migrationSource });
    await admin.raw(ensurePartitionsSql);
    return done as string[];
  });
}

/** Creates the audit partitions of the coming months; the server runs it daily (a long-running server crosses months). */
export async function ensureAuditPartitions(adminUrl: string): Promise<void> {
  await asAdmin(adminUrl, (admin) => admin.raw(ensurePartitionsSql));
}

/** Creates or refreshes the runtime login: LOGIN, NOINHERIT member of fhir_app, nothing else. */
export async function provisionRuntimeLogin(adminUrl: string, user: string, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const ident = client.escapeIdentifier(user);
    await client.query(`do $$ begin
      if not exists (select 1 from pg_roles where rolname = ${client.escapeLiteral(user)}) then create role ${ident} login noinherit; end if;
    end $$`);
    await client.query(`alter role ${ident} with login noinherit nosuperuser nocreatedb nocreaterole nobypassrls password ${client.escapeLiteral(password)}`);
    // Every statement of the request path is prepared and written for a generic plan (parameters in
    // index conditions, run-time partition pruning); re-planning per call costs more than it runs.
    await client.query(`alter role ${ident} set plan_cache_mode = force_generic_plan`);
    await client.query(`grant ${APP_ROLE} to ${ident}`);
    const db = (await client.query<{ db: string }>('select current_database() as db')).rows[0].db;
    await client.query(`grant connect on database ${client.escapeIdentifier(db)} to ${ident}`);
    await client.query(`grant usage on schema public to ${ident}`);
    await client.query(`grant execute on function app_begin(uuid, uuid, uuid) to ${ident}`);
    await client.query(`grant execute on function app_begin(uuid, uuid, uuid, text) to ${ident}`);
    await client.query(`grant execute on function app_begin_checked(uuid, uuid, uuid, text, text) to ${ident}`);
    // The authorization server's role (switched to per transaction), and the revoked-token check.
    await client.query(`grant ${AUTH_ROLE} to ${ident}`);
    await client.query(`grant execute on function oauth_token_revoked(text) to ${ident}`);
    // The audit sealer's role (switched to in its own transactions).
    await client.query(`grant ${SEALER_ROLE} to ${ident}`);
  } finally {
    await client.end();
  }
}

interface RoleFacts { rolsuper: boolean; rolbypassrls: boolean; rolinherit: boolean; owns: boolean; owner_member: boolean; reads_tables: boolean }

/** Refuses to serve through a login that could see past Row Level Security. */
export async function assertSafeRuntimeLogin(runtime: Knex): Promise<void> {
  const { rows } = await runtime.raw<{ rows: RoleFacts[] }>(`
    select r.rolsuper, r.rolbypassrls, r.rolinherit,
           exists (select 1 from pg_class c where c.relowner = r.oid and c.relnamespace = 'public'::regnamespace) as owns,
           pg_has_role(current_user, '${OWNER_ROLE}', 'MEMBER') as owner_member,
           has_table_privilege(current_user, 'public.patient', 'SELECT') as reads_tables
      from pg_roles r where r.rolname = current_user`);
  const f = rows[0];
  const problems = [
    f.rolsuper && 'is a superuser',
    f.rolbypassrls && 'has BYPASSRLS',
    f.owns && 'owns tables',
    f.owner_member && `is a member of ${OWNER_ROLE}`,
    f.reads_tables && 'can read tenant tables without switching to the app role',
  ].filter(Boolean);
  if (problems.length) throw new Error(`refusing to serve: the runtime database login ${problems.join(', ')}`);
}

/**
 * The embedded cluster's Unix socket, when it has one: a round trip through it costs both processes
 * less than through loopback TCP (DATABASE_URL is used as given).
 */
export async function localSocketUrl(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ dirs: string }>('select current_setting(\'unix_socket_directories\') as dirs');
    const dir = rows[0]?.dirs.split(',')[0]?.trim();
    if (!dir || !dir.startsWith('/') || !fs.existsSync(path.join(dir, `.s.PGSQL.${new URL(adminUrl).port}`))) return adminUrl;
    const u = new URL(adminUrl);
    u.searchParams.set('host', dir);
    return u.toString();
  } finally {
    await client.end();
  }
}

export function runtimeUrl(adminUrl: string, user: string, password: string): string {
  const u = new URL(adminUrl);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/**
 * Migrate, provision the runtime login, and open the runtime pool (checked before use). With
 * `prepare: false` (a cluster worker, whose primary did both) it only connects.
 */
export async function openDatabase(cfg: DatabaseSettings, { prepare = true } = {}): Promise<Database> {
  const admin = await adminConnection(cfg);
  try {
    if (prepare) await migrate(admin.url);
    const password = cfg.dbRuntimePassword ?? persistentSecret(cfg.dataDir, 'db-runtime-password');
    if (prepare) await provisionRuntimeLogin(admin.url, cfg.dbRuntimeUser, password);
    const url = runtimeUrl(cfg.databaseUrl ? admin.url : await localSocketUrl(admin.url), cfg.dbRuntimeUser, password);
    const runtime = makeKnex(url, cfg.dbPoolMax, true);
    await assertSafeRuntimeLogin(runtime);
    const background = makeKnex(url, 1, true);
    return {
      runtime,
      background,
      adminUrl: admin.url,
      close: async () => { await background.destroy(); await runtime.destroy(); await admin.stop(); },
    };
  } catch (err) {
    await admin.stop().catch(() => undefined);
    throw err;
  }
}
