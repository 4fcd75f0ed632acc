import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * One round trip for a read: the server keeps each (clinic, user)'s role in a per-process cache
 * and sends BEGIN, the context, the statement, its audit row and COMMIT in one message. The cache
 * is only a guess the database checks: app_begin now also answers a stamp of the role (its name
 * and permission tree), and app_begin_checked(clinic, user, patient, jti, stamp) sets the context
 * exactly as app_begin does but raises (SQLSTATE CF001) when the token was revoked, the membership
 * is gone or disabled, or the role is not the one stamped, so nothing in the message runs on a
 * stale decision and the server falls back to the full path.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create or replace function app_begin(p_clinic uuid, p_user uuid, p_patient uuid) returns jsonb language plpgsql
      as $f$
      begin
        perform set_config('role', '${APP_ROLE}', true),
                set_config('app.clinic_id', coalesce(p_clinic::text, ''), true),
                set_config('app.user_id', coalesce(p_user::text, ''), true),
                set_config('app.patient_id', coalesce(p_patient::text, ''), true);
        return (select jsonb_build_object('role', r.name, 'permissions', r.permissions, 'stamp', md5(r.name || ':' || r.permissions::text))
                  from public.membership m join public.role r on r.id = m.role_id and r.clinic_id = m.clinic_id
                 where m.clinic_id = p_clinic and m.user_id = p_user and not m.disabled);
      end $f$;

    create function app_begin_checked(p_clinic uuid, p_user uuid, p_patient uuid, p_jti text, p_stamp text) returns void language plpgsql
      as $f$
      declare ctx jsonb;
      begin
        ctx := public.app_begin(p_clinic, p_user, p_patient, p_jti);
        if ctx is null or (ctx->>'stamp') is distinct from p_stamp then
          raise exception 'the request context changed since it was cached' using errcode = 'CF001';
        end if;
      end $f$;
    revoke all on function app_begin_checked(uuid, uuid, uuid, text, text) from public;
    grant execute on function app_begin_checked(uuid, uuid, uuid, text, text) to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: a later migration replaces app_begin');
}
