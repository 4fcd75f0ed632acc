// knex's PostgreSQL client class, which db/knex-client.ts extends (knex ships no types for it).
declare module 'knex/lib/dialects/postgres/index.js' {
  import { Knex } from 'knex';

  class Client_PG extends Knex.Client {
    _query(connection: unknown, obj: { sql: string; bindings?: unknown[]; options?: Record<string, unknown> }): Promise<unknown>;
  }
  export = Client_PG;
}
