import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';

const TABLES: Array<{ table: string; compartment: 'self' | 'patient_id' }> = [
  { table: 'patient', compartment: 'self' },
  { table: 'appointment', compartment: 'patient_id' },
  { table: 'medication_request', compartment: 'patient_id' },
  { table: 'document_reference', compartment: 'patient_id' },
];

/**
 * The unique index on id also carries what picking a search page needs (clinic, compartment
 * patient, deleted, last_updated): the ids of a page in the default order are chosen by an
 * index-only scan, and only the rows of the page are read (see pagedSearch in
 * server/fhir/search/compile.ts). Same name and uniqueness as before; one index, not two.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  for (const { table, compartment } of TABLES) {
    const cols = ['clinic_id', ...(compartment === 'patient_id' ? ['patient_id'] : []), 'deleted', 'last_updated'];
    await knex.raw(`
      create unique index ${table}_id_page on ${table} (id) include (${cols.join(', ')});
      drop index ${table}_id;
      alter index ${table}_id_page rename to ${table}_id;
    `);
  }
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: a later migration changes these indexes again');
}
