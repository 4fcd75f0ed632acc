import type { Knex } from 'knex';
import { AUTH_ROLE } from '../../db/roles';

/**
 * Runs authorization-server work as fhir_auth: OAuth tables and read-only tenancy, never clinical
 * tables (RLS has no policy for it there). One transaction, like withClinic for requests.
 */
export function asAuthServer<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw(`select set_config('role', '${AUTH_ROLE}', true)`);
    return work(trx);
  });
}
