import type { Knex } from 'knex';
import { addCarePolicy } from '../care-policy';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/** Resource tables holding a patient's records, as they stood before this migration. */
const PATIENT_TABLES: Array<{ table: string; compartment: 'self' | 'patient_id' }> = [
  { table: 'patient', compartment: 'self' },
  { table: 'appointment', compartment: 'patient_id' },
  { table: 'medication_request', compartment: 'patient_id' },
  { table: 'document_reference', compartment: 'patient_id' },
];

const CATEGORIES = ['emergency-treatment', 'patient-cannot-consent', 'covering-clinician', 'urgent-continuity', 'public-health-threat'];
const EVENT_KINDS = ['requested', 'refused', 'granted', 'first-use', 'revoked', 'expired', 'reviewed'];
const inList = (xs: string[]) => xs.map((x) => `'${x}'`).join(', ');

/**
 * Care relationships, restricted records and break-glass, decided by RLS (README, "Security model"):
 *  - clinic.access_policy: `clinic-wide` (as before) or `care-team`;
 *  - care_assignment and care_share: who is in a patient's care, and until when;
 *  - break_glass_grant (a time-limited emergency access) and break_glass_event, the append-only
 *    life of each grant (requested, refused, granted, first-use, revoked, expired, reviewed);
 *  - security_label (v3-Confidentiality R or V, extracted on write) and the RESTRICTIVE care_team
 *    policy on every table of a patient's records (db/care-policy.ts), Binary following its document;
 *  - app_begin also answers the caller's active grants (and stamps them), so the pipeline marks an
 *    access under a grant BTG without another statement, and a cached role goes stale with them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    alter table clinic add column access_policy text not null default 'clinic-wide' check (access_policy in ('clinic-wide', 'care-team'));
    grant update (access_policy) on clinic to ${APP_ROLE};

    create table care_assignment (
      id uuid not null default gen_random_uuid(),
      clinic_id uuid not null,
      patient_id uuid not null,
      user_id uuid not null,
      starts_at timestamptz not null default now(),
      ends_at timestamptz,
      created_by uuid not null,
      ended_at timestamptz,
      ended_by uuid,
      primary key (clinic_id, id)
    );
    -- One open assignment per user and patient: $assign again moves its end.
    create unique index care_assignment_open on care_assignment (clinic_id, user_id, patient_id) where ended_at is null;

    create table care_share (
      id uuid not null default gen_random_uuid(),
      clinic_id uuid not null,
      patient_id uuid not null,
      from_user uuid not null,
      user_id uuid not null,
      starts_at timestamptz not null default now(),
      ends_at timestamptz not null,
      primary key (clinic_id, id),
      check (ends_at > starts_at and ends_at <= starts_at + interval '30 days')
    );
    create index care_share_user on care_share (clinic_id, user_id, patient_id, ends_at);

    create table break_glass_grant (
      id uuid not null default gen_random_uuid(),
      clinic_id uuid not null,
      patient_id uuid not null,
      user_id uuid not null,
      category text not null check (category in (${inList(CATEGORIES)})),
      reason text not null check (length(btrim(reason)) between 20 and 2000),
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz,
      revoked_by text,
      review_status text not null default 'pending' check (review_status in ('pending', 'appropriate', 'inappropriate', 'needs-info')),
      reviewed_at timestamptz,
      reviewed_by uuid,
      review_note text,
      primary key (clinic_id, id),
      check (expires_at > created_at and expires_at <= created_at + interval '24 hours')
    );
    create index break_glass_grant_user on break_glass_grant (clinic_id, user_id, expires_at) where revoked_at is null;
    create index break_glass_grant_patient on break_glass_grant (clinic_id, patient_id, created_at);
    create index break_glass_grant_expiring on break_glass_grant (expires_at) where revoked_at is null;

    create table break_glass_event (
      id uuid not null default gen_random_uuid(),
      clinic_id uuid not null,
      grant_id uuid,
      patient_id uuid not null,
      -- Who acted: a user, \`Patient/{id}\` for the patient's revoke, \`system\` for an expiry.
      actor text not null,
      kind text not null check (kind in (${inList(EVENT_KINDS)})),
      detail jsonb,
      at timestamptz not null default now(),
      primary key (clinic_id, id)
    );
    -- Each step of a grant's life happens once (a review may be revised): several workers may race to record it.
    create unique index break_glass_event_once on break_glass_event (clinic_id, grant_id, kind) where kind <> 'reviewed' and kind <> 'refused';
    create index break_glass_event_grant on break_glass_event (clinic_id, grant_id);
    create function break_glass_event_append_only() returns trigger language plpgsql as $f$
    begin
      raise exception 'break_glass_event is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $f$;
    create trigger append_only before update or delete on break_glass_event for each row execute function break_glass_event_append_only();
    create trigger append_only_truncate before truncate on break_glass_event for each statement execute function break_glass_event_append_only();
  `);
  for (const t of ['care_assignment', 'care_share', 'break_glass_grant', 'break_glass_event']) {
    await knex.raw(`
      alter table ${t} enable row level security;
      alter table ${t} force row level security;
      create policy isolate_clinic on ${t} using (clinic_id = (select app_clinic_id())) with check (clinic_id = (select app_clinic_id()));
      create policy patient_compartment on ${t} as restrictive
        using (app_patient_id() is null or patient_id = app_patient_id()) with check (app_patient_id() is null or patient_id = app_patient_id());
    `);
  }
  await knex.raw(`
    grant select, insert on care_assignment, care_share, break_glass_event to ${APP_ROLE};
    grant update (ends_at, ended_at, ended_by) on care_assignment to ${APP_ROLE};
    grant select, insert on break_glass_grant to ${APP_ROLE};
    grant update (revoked_at, revoked_by, review_status, reviewed_at, reviewed_by, review_note) on break_glass_grant to ${APP_ROLE};

    -- The clinic in context cares for all its patients alike (one InitPlan per statement).
    create function app_clinic_wide() returns boolean language plpgsql stable
      set search_path = public, pg_temp
      as $f$
      begin
        return coalesce((select c.access_policy = 'clinic-wide' from clinic c where c.id = app_requested_clinic_id()), false);
      end $f$;

    -- Only the owner's probes look past the care policy, for the duration of the function that set them:
    -- app_break_glass_available and its kin (app.care_probe), and the orphan sweep of migration 007
    -- (app.binary_sweep, which still sees object keys only).
    create function app_care_probe() returns boolean language sql stable
      as $f$ select current_user = '${OWNER_ROLE}'
                    and (current_setting('app.care_probe', true) = 'on' or current_setting('app.binary_sweep', true) = 'on') $f$;

    -- The acting user's care relationship with a patient: an assignment or share, or for a record
    -- not labelled V an active break-glass grant. Expiry needs no job: now() decides.
    create function app_care_access(p_patient uuid, p_label text) returns boolean language plpgsql stable
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
        return exists (select 1 from break_glass_grant g where g.clinic_id = c and g.user_id = u and g.patient_id = p_patient
                         and g.revoked_at is null and g.expires_at > now());
      end $f$;

    -- "This record exists in your clinic, is labelled R, and break-glass would open it", and nothing
    -- else: called after a read found nothing, to answer 403 (suppressed) instead of 404. A row the
    -- care-team policy hides without a label stays absent (404), as it is for everyone outside its care.
    create function app_break_glass_available(p_type text, p_id uuid) returns boolean language plpgsql
      security definer set search_path = public, pg_temp
      as $f$
      declare t text; pcol text; p uuid; l text; seen boolean;
      begin
        case p_type
          when 'Patient' then t := 'patient'; pcol := 'id';
          when 'Appointment' then t := 'appointment'; pcol := 'patient_id';
          when 'MedicationRequest' then t := 'medication_request'; pcol := 'patient_id';
          when 'DocumentReference' then t := 'document_reference'; pcol := 'patient_id';
          else return false;
        end case;
        perform set_config('app.care_probe', 'on', true);
        execute format('select %I, security_label from %I where id = $1 and not deleted', pcol, t) into p, l using p_id;
        seen := found;
        perform set_config('app.care_probe', '', true);
        return seen and p is not null and l = 'R';
      end $f$;
    revoke all on function app_break_glass_available(text, uuid) from public;
    grant execute on function app_break_glass_available(text, uuid) to ${APP_ROLE};

    -- Whether the patient exists in the clinic in context (labelled or not), and nothing else.
    create function app_patient_in_clinic(p_id uuid) returns boolean language plpgsql
      security definer set search_path = public, pg_temp
      as $f$
      declare seen boolean;
      begin
        perform set_config('app.care_probe', 'on', true);
        seen := exists (select 1 from patient where id = p_id and not deleted);
        perform set_config('app.care_probe', '', true);
        return seen;
      end $f$;
    -- Whether a user is an active member of the clinic in context (the app sees only its own membership).
    create policy member_probe on membership for select to ${OWNER_ROLE} using (current_setting('app.member_probe', true) = 'on');
    create policy member_probe on app_user for select to ${OWNER_ROLE} using (current_setting('app.member_probe', true) = 'on');
    create function app_clinic_member(p_user uuid) returns boolean language plpgsql
      security definer set search_path = public, pg_temp
      as $f$
      declare c uuid := app_clinic_id(); seen boolean;
      begin
        perform set_config('app.member_probe', 'on', true);
        seen := exists (select 1 from membership m join app_user u on u.id = m.user_id
                         where m.clinic_id = c and m.user_id = p_user and not m.disabled and not u.disabled);
        perform set_config('app.member_probe', '', true);
        return seen;
      end $f$;
    revoke all on function app_patient_in_clinic(uuid) from public;
    revoke all on function app_clinic_member(uuid) from public;
    grant execute on function app_patient_in_clinic(uuid), app_clinic_member(uuid) to ${APP_ROLE};

    -- Existing clinics' copies of the default roles learn the new keys (server/auth/permissions.ts).
    update role set permissions = jsonb_set(permissions, '{clinical}', coalesce(permissions->'clinical', '{}') || '{"breakGlass": {"request": true}}')
     where name = 'nurse';
    update role set permissions = jsonb_set(permissions, '{clinical}', coalesce(permissions->'clinical', '{}') || '{"careTeam": {"manage": true}}')
     where name in ('front-desk', 'clinic-admin');
    update role set permissions = jsonb_set(permissions, '{compliance}', coalesce(permissions->'compliance', '{}') || '{"breakGlass": {"review": true}}')
     where name in ('compliance-officer', 'clinic-admin');
    update role set permissions = jsonb_set(permissions, '{settings}', coalesce(permissions->'settings', '{}') || '{"clinic": {"manage": true}}')
     where name = 'clinic-admin';

    -- A Binary follows its DocumentReference: the document's label (read past the care policy, nothing
    -- else) and the patient's care relationship; one not attached yet, its patient's clinical records.
    create function app_document_label(p_doc uuid) returns text language plpgsql
      security definer set search_path = public, pg_temp
      as $f$
      declare l text;
      begin
        if p_doc is null then return null; end if;
        perform set_config('app.care_probe', 'on', true);
        select d.security_label into l from document_reference d where d.id = p_doc and d.clinic_id = app_clinic_id();
        perform set_config('app.care_probe', '', true);
        return l;
      end $f$;
    revoke all on function app_document_label(uuid) from public;
    grant execute on function app_document_label(uuid) to ${APP_ROLE};
    create policy care_team on document_binary as restrictive
      using ((select app_care_probe())
             or ((select app_clinic_wide()) and app_document_label(document_id) is null)
             or app_care_access(patient_id, app_document_label(document_id)))
      with check ((select app_clinic_wide()) or app_care_access(patient_id, null));

    -- Expiry events: the sweeper of any worker records each expired grant once (break_glass_event_once).
    create policy expiry_sweep on break_glass_grant for select to ${OWNER_ROLE} using (current_setting('app.break_glass_sweep', true) = 'on');
    create policy expiry_sweep on break_glass_event to ${OWNER_ROLE}
      using (current_setting('app.break_glass_sweep', true) = 'on') with check (current_setting('app.break_glass_sweep', true) = 'on');
    create function break_glass_record_expired(p_limit integer)
      returns table (grant_id uuid, clinic_id uuid, patient_id uuid, user_id uuid, category text, reason text, expires_at timestamptz)
      language plpgsql security definer set search_path = public, pg_temp
      as $f$
      #variable_conflict use_column
      begin
        perform set_config('app.break_glass_sweep', 'on', true);
        return query
          with due as (
            select g.id, g.clinic_id, g.patient_id, g.user_id, g.category, g.reason, g.expires_at from break_glass_grant g
             where g.revoked_at is null and g.expires_at <= now()
               and not exists (select 1 from break_glass_event e where e.clinic_id = g.clinic_id and e.grant_id = g.id and e.kind = 'expired')
             order by g.expires_at limit p_limit
          ), recorded as (
            insert into break_glass_event (clinic_id, grant_id, patient_id, actor, kind, at)
            select d.clinic_id, d.id, d.patient_id, 'system', 'expired', d.expires_at from due d
            on conflict (clinic_id, grant_id, kind) where kind <> 'reviewed' and kind <> 'refused' do nothing
            returning break_glass_event.grant_id
          )
          select d.id, d.clinic_id, d.patient_id, d.user_id, d.category, d.reason, d.expires_at from due d join recorded r on r.grant_id = d.id;
        perform set_config('app.break_glass_sweep', '', true);
      end $f$;
    revoke all on function break_glass_record_expired(integer) from public;
    grant execute on function break_glass_record_expired(integer) to ${APP_ROLE};

    -- The request context, now with the caller's active break-glass grants (and their first use) in
    -- the answer and the stamp: a grant given, used, revoked or expired makes a cached role stale.
    create or replace function app_begin(p_clinic uuid, p_user uuid, p_patient uuid) returns jsonb language plpgsql
      as $f$
      declare g jsonb;
      begin
        perform set_config('role', '${APP_ROLE}', true),
                set_config('app.clinic_id', coalesce(p_clinic::text, ''), true),
                set_config('app.user_id', coalesce(p_user::text, ''), true),
                set_config('app.patient_id', coalesce(p_patient::text, ''), true);
        g := (select jsonb_agg(jsonb_build_object('id', b.id, 'patient', b.patient_id,
                       'used', exists (select 1 from public.break_glass_event e where e.clinic_id = b.clinic_id and e.grant_id = b.id and e.kind = 'first-use'))
                       order by b.id)
                from public.break_glass_grant b
               where b.clinic_id = p_clinic and b.user_id = p_user and b.revoked_at is null and b.expires_at > now());
        return (select jsonb_build_object('role', r.name, 'permissions', r.permissions,
                         'stamp', md5(r.name || ':' || r.permissions::text || coalesce(':' || g::text, '')), 'grants', g)
                  from public.membership m join public.role r on r.id = m.role_id and r.clinic_id = m.clinic_id
                 where m.clinic_id = p_clinic and m.user_id = p_user and not m.disabled);
      end $f$;
  `);
  for (const { table, compartment } of PATIENT_TABLES) await addCarePolicy(knex, table, compartment);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: records written since carry labels and relationships');
}
