import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';

/**
 * ID tokens may be signed RS256 (SMART sso-openid-connect requires it): the key ring holds an RSA
 * key beside the ES256 one that signs access tokens.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    alter table oauth_signing_key drop constraint oauth_signing_key_alg_check;
    alter table oauth_signing_key add constraint oauth_signing_key_alg_check check (alg in ('ES256', 'RS256'));
  `);
  await knex.raw('reset role');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    delete from oauth_signing_key where alg = 'RS256';
    alter table oauth_signing_key drop constraint oauth_signing_key_alg_check;
    alter table oauth_signing_key add constraint oauth_signing_key_alg_check check (alg in ('ES256'));
  `);
  await knex.raw('reset role');
}
