import type { Knex } from 'knex';
import { createResourceType, type ResourceTableSpec } from '../resource-recipe';
import { ADMIN_ROLE, OWNER_ROLE } from '../roles';

/**
 * Frozen copy of what server/fhir/resources/practitioner.ts derived on the day of this migration
 * (tableSpecOf): a later change to the definition is a new migration, not a new meaning of this one.
 */
export const PRACTITIONER_TABLES: ResourceTableSpec = {
  table: 'practitioner',
  compartment: { referencedFrom: { table: 'patient', column: 'sp_general_practitioner', type: 'Practitioner' } },
  search: [
    { name: 'identifier', type: 'token' },
    { name: 'name', type: 'string' },
    { name: 'family', type: 'string' },
    { name: 'given', type: 'string' },
    { name: 'active', type: 'token' },
  ],
};

/** The directory keys each default role gets, as the role template (DEFAULT_ROLES) had them on that day. */
const DIRECTORY_KEYS: Record<string, Record<string, boolean>> = {
  'clinic-admin': { view: true, search: true, create: true, update: true, delete: true },
  doctor: { view: true, search: true },
  nurse: { view: true, search: true },
  'front-desk': { view: true, search: true },
  billing: { view: true, search: true },
  pharmacist: { view: true, search: true },
  'compliance-officer': { view: true, search: true },
};

/**
 * Practitioner, the staff directory: its tables from the one recipe; a user's membership at a clinic
 * may name the Practitioner that user is there (the token's fhirUser); existing clinics' default
 * roles get the `directory.practitioners` keys (roles renamed or made by a clinic are left alone).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await createResourceType(knex, PRACTITIONER_TABLES);
  await knex.raw(`
    alter table membership add column practitioner_id uuid;
    -- One person per directory entry in a clinic.
    create unique index membership_practitioner on membership (clinic_id, practitioner_id) where practitioner_id is not null;

    -- Whether p_user, as a member of p_clinic, would see Practitioner p_practitioner: the admin CLI
    -- checks a link with it without any policy opening practitioner rows to the admin role. The
    -- caller's request context is put back before returning.
    create function practitioner_linkable(p_clinic uuid, p_user uuid, p_practitioner uuid) returns boolean
      language plpgsql security definer set search_path = public, pg_temp
      as $f$
      declare
        was_clinic text := coalesce(current_setting('app.clinic_id', true), '');
        was_user text := coalesce(current_setting('app.user_id', true), '');
        was_patient text := coalesce(current_setting('app.patient_id', true), '');
        found boolean;
      begin
        perform set_config('app.clinic_id', p_clinic::text, true), set_config('app.user_id', p_user::text, true),
                set_config('app.patient_id', '', true);
        found := exists (select 1 from practitioner where id = p_practitioner and not deleted);
        perform set_config('app.clinic_id', was_clinic, true), set_config('app.user_id', was_user, true),
                set_config('app.patient_id', was_patient, true);
        return found;
      end $f$;
    revoke all on function practitioner_linkable(uuid, uuid, uuid) from public;
    grant execute on function practitioner_linkable(uuid, uuid, uuid) to ${ADMIN_ROLE};
  `);
  await knex.raw(`set local role ${ADMIN_ROLE}`);
  await grantDirectoryKeys(knex);
  await knex.raw('reset role');
}

/** Adds the directory keys to every clinic's default roles, keeping whatever else each role holds. Run as the admin role. */
export async function grantDirectoryKeys(knex: Knex): Promise<void> {
  for (const [role, keys] of Object.entries(DIRECTORY_KEYS)) {
    await knex.raw(`
      update role set updated_at = now(),
        permissions = permissions || jsonb_build_object('directory', coalesce(permissions->'directory', '{}'::jsonb)
          || jsonb_build_object('practitioners', coalesce(permissions#>'{directory,practitioners}', '{}'::jsonb) || ?::jsonb))
       where name = ?`, [JSON.stringify(keys), role]);
  }
}

export async function down(): Promise<void> {
  throw new Error('irreversible: practitioner data is never dropped by a migration');
}
