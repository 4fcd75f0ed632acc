import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';
import { createResourceTables } from '../resource-table';

// Frozen copy of the search columns at the time of this migration; a later change is a new migration.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await createResourceTables(knex, 'medication_request', {
    compartment: 'patient_id',
    search: [
      { name: 'identifier', type: 'token' },
      { name: 'patient', type: 'reference' },
      { name: 'subject', type: 'reference' },
      { name: 'status', type: 'token' },
      { name: 'intent', type: 'token' },
      { name: 'authoredon', type: 'date' },
      { name: 'code', type: 'token' },
      { name: 'medication', type: 'reference' },
      { name: 'requester', type: 'reference' },
      { name: 'encounter', type: 'reference' },
    ],
  });
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: medication_request data is never dropped by a migration');
}
