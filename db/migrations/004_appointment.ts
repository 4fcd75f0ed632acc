import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';
import { createResourceTables } from '../resource-table';

// Frozen copy of the search columns at the time of this migration; a later change is a new migration.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await createResourceTables(knex, 'appointment', {
    compartment: 'patient_id',
    search: [
      { name: 'identifier', type: 'token' },
      { name: 'patient', type: 'reference' },
      { name: 'actor', type: 'reference' },
      { name: 'practitioner', type: 'reference' },
      { name: 'date', type: 'date' },
      { name: 'status', type: 'token' },
      { name: 'service-type', type: 'token' },
      { name: 'appointment-type', type: 'token' },
    ],
  });
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: appointment data is never dropped by a migration');
}
