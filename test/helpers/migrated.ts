import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../db/migrations';

/** A database of its own in the test cluster, migrated as far as `last` (a migration's name). */
export async function databaseAt(adminUrl: string, name: string, last: string): Promise<Knex> {
  const root = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  await root.raw(`create database ${name}`);
  await root.destroy();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
  for (;;) {
    const [, ran] = await db.migrate.up({ migrationSource }) as [unknown, string[]];
    if (!ran.length || ran.includes(last)) return db;
  }
}

/** Drops a database `databaseAt` made. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const root = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    await root.raw(`drop database if exists ${name}`);
  } finally {
    await root.destroy();
  }
}
