import type { Knex } from 'knex';
import * as m001 from './001_roles_and_tenancy';
import * as m002 from './002_patient';
import * as m003 from './003_audit_event';

interface Migration { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> }

/** Ordered list of migrations; knex records each by name in knex_migrations. */
const MIGRATIONS: Array<[string, Migration]> = [
  ['001_roles_and_tenancy', m001],
  ['002_patient', m002],
  ['003_audit_event', m003],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};
