import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * A request's context and the revocation check of its token in one statement: app_begin(clinic,
 * user, patient, jti) first asks oauth_token_revoked(jti) (as the runtime login, before the switch to
 * the app role) and answers {"revoked": true} without setting anything when the token was revoked;
 * otherwise it is app_begin(clinic, user, patient). One statement to parse and run per request
 * instead of two.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create function app_begin(p_clinic uuid, p_user uuid, p_patient uuid, p_jti text) returns jsonb language plpgsql
      as $f$
      begin
        if p_jti is not null and public.oauth_token_revoked(p_jti) then
          return jsonb_build_object('revoked', true);
        end if;
        return public.app_begin(p_clinic, p_user, p_patient);
      end $f$;
    revoke all on function app_begin(uuid, uuid, uuid, text) from public;
    grant execute on function app_begin(uuid, uuid, uuid, text) to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: a later migration replaces app_begin');
}
