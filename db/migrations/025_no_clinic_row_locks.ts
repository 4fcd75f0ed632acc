import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';

const TABLES = ['audit_event', 'patient', 'patient_history', 'appointment', 'appointment_history', 'medication_request',
  'medication_request_history', 'document_reference', 'document_reference_history'];

/**
 * Request writes stop locking their clinic's row. A foreign key to clinic(id) makes every insert
 * take FOR KEY SHARE on the clinic row; with every request of a clinic writing at least its
 * AuditEvent, all of them lock the same row at once, and PostgreSQL turns each new locker into a new
 * MultiXact. The keys checked nothing RLS does not already: a row's clinic_id must equal
 * app_clinic_id() (or app_requested_clinic_id() for audit rows), which is only set for an existing
 * clinic with an active membership, and clinics are never deleted (no role holds DELETE on clinic).
 * Tenancy tables (membership, role, OAuth) keep theirs.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  const { rows } = await knex.raw<{ rows: Array<{ tbl: string; name: string }> }>(`
    select c.conrelid::regclass::text as tbl, c.conname as name from pg_constraint c
     where c.contype = 'f' and c.confrelid = 'clinic'::regclass and c.conparentid = 0
       and c.conrelid::regclass::text = any(?)`, [TABLES]);
  for (const r of rows) await knex.raw(`alter table ${r.tbl} drop constraint ${r.name}`);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: restoring the keys would lock the clinic row on every request again');
}
