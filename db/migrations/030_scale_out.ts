import type { Knex } from 'knex';
import { ADMIN_ROLE, OWNER_ROLE } from '../roles';

/**
 * Secrets at rest: `secrets rotate-key` (admin CLI) re-seals the shared secrets too, so the admin
 * role may read and rewrite oauth_secret (it already may for signing keys and TOTP seeds).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create policy admin_manage on oauth_secret to ${ADMIN_ROLE} using (true) with check (true);
    grant select, update on oauth_secret to ${ADMIN_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: later migrations rely on these keys and grants');
}
