import type { Knex } from 'knex';
import type pg from 'pg';
import { APP_ROLE } from './roles';

interface KnexPool {
  client: { acquireConnection(): Promise<pg.ClientBase>; releaseConnection(conn: pg.ClientBase): Promise<unknown> };
}

/**
 * One transaction as the application role, straight on a pooled connection: for the background
 * sweeps whose audit rows are literal SQL, which knex would scan for bindings. Rolled back on any
 * error; the connection goes back to the pool either way.
 */
export async function inAppRoleTransaction<T>(db: Knex, work: (conn: pg.ClientBase) => Promise<T>): Promise<T> {
  const { client } = db as unknown as KnexPool;
  const conn = await client.acquireConnection();
  try {
    await conn.query(`BEGIN; select set_config('role', '${APP_ROLE}', true)`);
    const out = await work(conn);
    await conn.query('COMMIT');
    return out;
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.releaseConnection(conn);
  }
}
