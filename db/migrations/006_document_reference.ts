import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';
import { createResourceTables } from '../resource-table';

// Frozen copy of the search columns at the time of this migration; a later change is a new migration.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await createResourceTables(knex, 'document_reference', {
    compartment: 'patient_id',
    search: [
      { name: 'identifier', type: 'token' },
      { name: 'patient', type: 'reference' },
      { name: 'subject', type: 'reference' },
      { name: 'type', type: 'token' },
      { name: 'category', type: 'token' },
      { name: 'date', type: 'date' },
      { name: 'status', type: 'token' },
      { name: 'author', type: 'reference' },
      { name: 'contenttype', type: 'token' },
      { name: 'period', type: 'date' },
    ],
  });
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: document_reference data is never dropped by a migration');
}
