import type { Knex } from 'knex';
import { ADMIN_ROLE, OWNER_ROLE } from '../roles';

const RESOURCE_TABLES: Array<{ table: string; patientColumn: boolean }> = [
  { table: 'patient', patientColumn: false },
  { table: 'appointment', patientColumn: true },
  { table: 'medication_request', patientColumn: true },
  { table: 'document_reference', patientColumn: true },
  { table: 'practitioner', patientColumn: false },
];

/**
 * Scale-out readiness:
 *  - Every unique key of a tenant table holds clinic_id, as Citus requires of a table distributed
 *    by it: the id index that picks search pages (024) becomes unique on (id, clinic_id), same
 *    lookups by id and the same index-only page scans; a Binary's id and object key likewise.
 *  - Secrets at rest: `secrets rotate-key` (admin CLI) re-seals the shared secrets too, so the
 *    admin role may read and rewrite oauth_secret (it already may for signing keys and TOTP seeds).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  for (const { table, patientColumn } of RESOURCE_TABLES) {
    const includes = [...(patientColumn ? ['patient_id'] : []), 'deleted', 'last_updated'];
    await knex.raw(`
      create unique index ${table}_id_clinic on ${table} (id, clinic_id) include (${includes.join(', ')});
      drop index ${table}_id;
      alter index ${table}_id_clinic rename to ${table}_id;
    `);
  }
  await knex.raw(`
    create unique index document_binary_id_clinic on document_binary (id, clinic_id);
    drop index document_binary_id;
    alter index document_binary_id_clinic rename to document_binary_id;
    create unique index document_binary_key_clinic on document_binary (object_key, clinic_id);
    drop index document_binary_key;
    alter index document_binary_key_clinic rename to document_binary_key;

    create policy admin_manage on oauth_secret to ${ADMIN_ROLE} using (true) with check (true);
    grant select, update on oauth_secret to ${ADMIN_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: later migrations rely on these keys and grants');
}
