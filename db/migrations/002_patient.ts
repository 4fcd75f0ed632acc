import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';
import { createResourceTables } from '../resource-table';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await createResourceTables(knex, 'patient', {
    compartment: 'self',
    search: [
      { name: 'identifier', type: 'token' },
      { name: 'name', type: 'string' },
      { name: 'family', type: 'string' },
      { name: 'given', type: 'string' },
      { name: 'birthdate', type: 'date' },
      { name: 'gender', type: 'token' },
      { name: 'telecom', type: 'token' },
      { name: 'phone', type: 'token' },
      { name: 'email', type: 'token' },
      { name: 'address', type: 'string' },
      { name: 'address-city', type: 'string' },
      { name: 'address-postalcode', type: 'string' },
      { name: 'active', type: 'token' },
      { name: 'general-practitioner', type: 'reference' },
      { name: 'organization', type: 'reference' },
    ],
  });
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: patient data is never dropped by a migration');
}
