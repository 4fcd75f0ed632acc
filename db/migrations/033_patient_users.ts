import type { Knex } from 'knex';
import { ADMIN_ROLE, APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * The `patient` role as the role template (server/auth/permissions.ts) had it on the day of this
 * migration: existing clinics get this copy; a later change to the template is a new migration.
 */
const PATIENT_ROLE = {
  clinical: {
    patients: { view: true, search: true },
    prescriptions: { view: true, search: true },
    documents: { view: true, search: true },
    breakGlass: { revoke: true },
  },
  scheduling: { appointments: { view: true, search: true } },
  compliance: { auditEvents: { view: true, search: true } },
};

/**
 * Patients as users. A membership may name the Patient its user is at the clinic (admin CLI
 * `user create --patient`): such a member acts, on every request, in that patient's compartment,
 * because app_begin sets app.patient_id from the membership whatever the token asked, so the
 * restrictive compartment policies of every clinical table and of audit_event confine the rows.
 * Also: patient_linkable (the CLI's check that the Patient exists in the clinic, as practitioner_linkable),
 * clinic_member_label (the access report's name of an accessor), the `patient` role in existing
 * clinics, and the clinic-admin's new `clinical.breakGlass.revoke` key.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    alter table membership add column patient_id uuid;
    -- One account per patient record in a clinic; a patient account is nobody's staff identity.
    create unique index membership_patient on membership (clinic_id, patient_id) where patient_id is not null;
    alter table membership add constraint membership_patient_or_practitioner check (patient_id is null or practitioner_id is null);

    -- A member linked to a Patient works in that patient's compartment, whatever the token said.
    -- (Otherwise as migration 032 left it: the caller's active break-glass grants in the answer and the stamp.)
    create or replace function app_begin(p_clinic uuid, p_user uuid, p_patient uuid) returns jsonb language plpgsql
      as $f$
      declare g jsonb; ctx jsonb; linked uuid;
      begin
        perform set_config('role', '${APP_ROLE}', true),
                set_config('app.clinic_id', coalesce(p_clinic::text, ''), true),
                set_config('app.user_id', coalesce(p_user::text, ''), true);
        g := (select jsonb_agg(jsonb_build_object('id', b.id, 'patient', b.patient_id,
                       'used', exists (select 1 from public.break_glass_event e where e.clinic_id = b.clinic_id and e.grant_id = b.id and e.kind = 'first-use'))
                       order by b.id)
                from public.break_glass_grant b
               where b.clinic_id = p_clinic and b.user_id = p_user and b.revoked_at is null and b.expires_at > now());
        select jsonb_build_object('role', r.name, 'permissions', r.permissions,
                 'stamp', md5(r.name || ':' || r.permissions::text || coalesce(':' || g::text, '')), 'grants', g), m.patient_id
          into ctx, linked
          from public.membership m join public.role r on r.id = m.role_id and r.clinic_id = m.clinic_id
         where m.clinic_id = p_clinic and m.user_id = p_user and not m.disabled;
        perform set_config('app.patient_id', coalesce(linked::text, p_patient::text, ''), true);
        return ctx;
      end $f$;

    -- A patient's own account has a care relationship with its own Patient (a very restricted record
    -- excepted): otherwise as migration 032 left it.
    create or replace function app_care_access(p_patient uuid, p_label text) returns boolean language plpgsql stable
      set search_path = public, pg_temp
      as $f$
      declare u uuid := app_user_id(); c uuid := app_requested_clinic_id();
      begin
        if p_patient is null or u is null then return false; end if;
        if exists (select 1 from care_assignment a where a.clinic_id = c and a.user_id = u and a.patient_id = p_patient
                     and a.ended_at is null and a.starts_at <= now() and (a.ends_at is null or a.ends_at > now()))
           or exists (select 1 from care_share s where s.clinic_id = c and s.user_id = u and s.patient_id = p_patient
                     and s.starts_at <= now() and s.ends_at > now()) then
          return true;
        end if;
        if p_label = 'V' then return false; end if;
        if exists (select 1 from membership m where m.clinic_id = c and m.user_id = u and m.patient_id = p_patient and not m.disabled) then
          return true;
        end if;
        return exists (select 1 from break_glass_grant g where g.clinic_id = c and g.user_id = u and g.patient_id = p_patient
                         and g.revoked_at is null and g.expires_at > now());
      end $f$;

    -- Whether Patient p_patient exists in p_clinic, as p_user (a member there) in that patient's
    -- compartment would see it; the caller's request context is put back before returning.
    create function patient_linkable(p_clinic uuid, p_user uuid, p_patient uuid) returns boolean
      language plpgsql security definer set search_path = public, pg_temp
      as $f$
      declare
        was_clinic text := coalesce(current_setting('app.clinic_id', true), '');
        was_user text := coalesce(current_setting('app.user_id', true), '');
        was_patient text := coalesce(current_setting('app.patient_id', true), '');
        found boolean;
      begin
        perform set_config('app.clinic_id', p_clinic::text, true), set_config('app.user_id', p_user::text, true),
                set_config('app.patient_id', p_patient::text, true);
        found := exists (select 1 from patient where id = p_patient and not deleted);
        perform set_config('app.clinic_id', was_clinic, true), set_config('app.user_id', was_user, true),
                set_config('app.patient_id', was_patient, true);
        return found;
      end $f$;
    revoke all on function patient_linkable(uuid, uuid, uuid) from public;
    grant execute on function patient_linkable(uuid, uuid, uuid) to ${ADMIN_ROLE};

    -- The name an access report shows for p_user: only for a member of the clinic in context, read
    -- as that member (the tenancy policies show a user only their own rows), the caller's context
    -- put back before returning.
    create function clinic_member_label(p_user uuid) returns text
      language plpgsql security definer set search_path = public, pg_temp
      as $f$
      declare
        v_clinic uuid := app_clinic_id();
        was_user text := coalesce(current_setting('app.user_id', true), '');
        v_label text;
      begin
        if v_clinic is null or p_user is null then return null; end if;
        perform set_config('app.user_id', p_user::text, true);
        v_label := (select coalesce(nullif(u.display_name, ''), u.email) from membership m join app_user u on u.id = m.user_id
                     where m.user_id = p_user and m.clinic_id = v_clinic);
        perform set_config('app.user_id', was_user, true);
        return v_label;
      end $f$;
    revoke all on function clinic_member_label(uuid) from public;
    grant execute on function clinic_member_label(uuid) to ${APP_ROLE};
  `);
  await knex.raw(`set local role ${ADMIN_ROLE}`);
  await knex.raw(`
    insert into role (clinic_id, name, permissions)
    select c.id, 'patient', ?::jsonb from clinic c
     where not exists (select 1 from role r where r.clinic_id = c.id and r.name = 'patient')`, [JSON.stringify(PATIENT_ROLE)]);
  await knex.raw(`
    update role set updated_at = now(),
      permissions = permissions || jsonb_build_object('clinical', coalesce(permissions->'clinical', '{}'::jsonb)
        || jsonb_build_object('breakGlass', coalesce(permissions#>'{clinical,breakGlass}', '{}'::jsonb) || '{"revoke": true}'::jsonb))
     where name = 'clinic-admin'`);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: a later migration replaces app_begin');
}
