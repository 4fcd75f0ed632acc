import crypto from 'node:crypto';
import type { Knex } from 'knex';
import Client_PG from 'knex/lib/dialects/postgres/index.js';
import pg from 'pg';

/**
 * uuid[] (OID 2951) parsed by splitting: a uuid never holds a quote, comma or brace, so pg's general
 * array parser (a character at a time) is not needed. An AuditEvent search page parses twenty of
 * them per row, and the general parser cost 140 µs a page against 6.
 */
const UUID_ARRAY = 2951;
export function parseUuidArray(text: string): Array<string | null> {
  if (text === '{}') return [];
  return text.slice(1, -1).split(',').map((u) => (u === 'NULL' ? null : u));
}
pg.types.setTypeParser(UUID_ARRAY as Parameters<typeof pg.types.setTypeParser>[0], parseUuidArray);

/**
 * A transaction's first round trip, in place of knex's bare `BEGIN`: it runs `BEGIN; ...` as one
 * query (`run` answers pg's results). `conn` is the transaction's connection (see `executorOn`).
 */
export type BeginHook = (run: (sql: string) => Promise<unknown>, conn: pg.ClientBase) => Promise<void>;

/** Statements run straight on a transaction's connection, past knex's builder and runner (the hot path). */
export interface SqlExecutor {
  rows<T>(q: { sql: string; bindings: readonly unknown[] }): Promise<T[]>;
}

/** An executor on `conn`; statements with parameters are prepared under the same names as knex's. */
export function executorOn(conn: pg.ClientBase): SqlExecutor {
  return {
    async rows<T>(q: { sql: string; bindings: readonly unknown[] }): Promise<T[]> {
      const name = q.bindings.length ? statementName(q.sql) : undefined;
      const res = await conn.query({ text: q.sql, values: [...q.bindings], ...(name ? { name } : {}) });
      return res.rows as T[];
    },
  };
}

const LITERAL = 'literal';
/** The option of a statement made of SQL literals (`trx.raw(sql).options(LITERAL_SQL)`): knex leaves its `?` alone. */
export const LITERAL_SQL = { [LITERAL]: true } as const;

/** Statements (SQL with literal values) to send in the same round trip as the COMMIT, if any. */
export type CommitHook = () => string | undefined;

/** What knex's Transaction exposes to its client (knex 3 internals). */
interface TrxInternals {
  begin(conn: unknown): Promise<unknown>;
  commit(conn: unknown, value: unknown): Promise<unknown>;
  trxClient: { query(conn: unknown, sql: string): Promise<{ response: unknown }> };
  _completed: boolean;
  _resolver(value: unknown): void;
  _rejecter(err: unknown): void;
}

// Each distinct statement becomes a named prepared statement (parsed and planned once per connection)
// up to this many: enough for the server's fixed statements and search shapes, bounded for PostgreSQL.
const MAX_PREPARED = 300;
const names = new Map<string, string>();

/** The prepared statement name of `sql` (the benchmark's floor prepares the same statements). */
export function statementName(sql: string): string | undefined {
  let name = names.get(sql);
  if (name === undefined && names.size < MAX_PREPARED) {
    name = `k${crypto.createHash('sha1').update(sql).digest('base64url').slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}

/**
 * Transaction options that open it with `begin` and send `beforeCommit`'s statements with the
 * COMMIT (knex passes unknown options through to the client).
 */
export function beginWith(begin: BeginHook, beforeCommit?: CommitHook): Knex.TransactionConfig {
  return { begin, beforeCommit } as Knex.TransactionConfig;
}

/**
 * knex's pg client with two changes for the request path: statements with parameters are prepared
 * once per connection (no per-request parse and plan), and a transaction may fold its `BEGIN` and
 * its `COMMIT` into the round trips next to them (`beginWith`, see withClinic).
 */
export class TunedPgClient extends Client_PG {
  override _query(connection: unknown, obj: { sql: string; bindings?: unknown[]; options?: Record<string, unknown> }): Promise<unknown> {
    if (obj.bindings?.length && !obj.options?.name) {
      const name = statementName(obj.sql);
      if (name) obj.options = { ...obj.options, name };
    }
    return super._query(connection, obj);
  }

  /** SQL sent with `{ literal: true }` holds only literal values: a `?` in one is text, not a placeholder for knex to number. */
  override query(connection: unknown, queryParam: unknown): Promise<unknown> {
    const q = queryParam as { sql: string; bindings?: unknown[]; options?: Record<string, unknown> };
    if (typeof queryParam === 'object' && q.options?.[LITERAL] === true && !q.bindings?.length) {
      const { [LITERAL]: _literal, ...options } = q.options;
      return this._query(connection, { sql: q.sql, bindings: [], options });
    }
    return super.query(connection, queryParam);
  }

  override transaction(container: unknown, config: { begin?: BeginHook; beforeCommit?: CommitHook } | undefined, outerTx: unknown): Knex.Transaction {
    const trx = super.transaction(container, config, outerTx);
    const hook = config?.begin;
    const beforeCommit = config?.beforeCommit;
    const t = trx as unknown as TrxInternals;
    if (beforeCommit && !outerTx) {
      const commit = t.commit.bind(t);
      t.commit = async (conn, value) => {
        const pending = beforeCommit();
        if (!pending) return commit(conn, value);
        try {
          // Straight on the connection: knex would read a `?` inside a literal (an audit note) as a binding.
          await (conn as pg.ClientBase).query(`${pending}; COMMIT;`);
        } catch (err) {
          // The statement failed inside the transaction: roll it back before the connection goes back to the pool.
          await t.trxClient.query(conn, 'ROLLBACK').catch(() => undefined);
          t._completed = true;
          t._rejecter(err);
          return undefined;
        }
        t._completed = true;
        t._resolver(value);
        return undefined;
      };
    }
    if (hook && !outerTx) {
      t.begin = async (conn) => {
        try {
          await hook(async (sql) => (await t.trxClient.query(conn, sql)).response, conn as pg.ClientBase);
        } catch (err) {
          // knex only rolls back what its container threw: a failed first statement must not go back to the pool mid-transaction.
          await t.trxClient.query(conn, 'ROLLBACK').catch(() => undefined);
          throw err;
        }
      };
    }
    return trx;
  }
}
