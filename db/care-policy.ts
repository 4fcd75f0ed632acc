import type { Knex } from 'knex';

/**
 * The RESTRICTIVE `care_team` policy of a table holding patients' records (migration 032): who,
 * within a clinic, sees a patient's row. Cheap where nothing is restricted: in a `clinic-wide`
 * clinic an unlabelled row passes on `security_label is null` and one InitPlan per statement
 * (`(select app_clinic_wide())`); only labelled rows, and every row of a `care-team` clinic,
 * call app_care_access(patient, label) (an assignment or a share; a break-glass grant unless `V`).
 *  - `self` (Patient): demographics stay clinic-wide; only a labelled Patient needs a relationship.
 *  - `patient_id`: clinical rows; a row naming no patient follows the label alone.
 * `(select app_care_probe())` opens the rows to app_break_glass_available() only (the owner, for
 * the duration of that function), which answers "exists and break-glassable" without data.
 */
export function carePolicy(compartment: 'self' | 'patient_id', row = ''): string {
  const c = (col: string) => (row ? `${row}.${col}` : col);
  if (compartment === 'self') {
    return `(select app_care_probe()) or ${c('security_label')} is null or app_care_access(${c('id')}, ${c('security_label')})`;
  }
  return `(select app_care_probe()) or (${c('security_label')} is null and (${c('patient_id')} is null or (select app_clinic_wide())))`
    + ` or app_care_access(${c('patient_id')}, ${c('security_label')})`;
}

/**
 * WITH CHECK of the care policy: who may write a patient's records. The relationship decides (in a
 * `care-team` clinic), not the label: a record may be written restricted by one who will not see
 * it afterwards (a new R Patient has nobody in its care yet), which reveals nothing.
 */
export function careCheck(compartment: 'self' | 'patient_id'): string {
  if (compartment === 'self') return 'true';
  return '(select app_care_probe()) or patient_id is null or (select app_clinic_wide()) or app_care_access(patient_id, null)';
}

/** The history table's care policy: its own label, and its current row visible (see addCarePolicy). */
export function careHistoryPolicy(table: string, compartment: 'self' | 'patient_id'): string {
  return `(${carePolicy(compartment, `${table}_history`)}) and exists (select 1 from ${table} c`
    + ` where c.clinic_id = ${table}_history.clinic_id and c.id = ${table}_history.id)`;
}

/** The trigger function appending every written version of `table` to its history. */
export function keepHistoryFunction(table: string, histCols: readonly string[]): string {
  return `
    create or replace function ${table}_keep_history() returns trigger language plpgsql as $f$
    begin
      insert into ${table}_history (${histCols.join(', ')}) values (${histCols.map((c) => `new.${c}`).join(', ')});
      return null;
    end $f$;`;
}

/**
 * The label column and the care policy of an existing resource type's current table and its
 * history (run as the owner). A history row also needs its current row visible, so an old
 * unlabelled version of a record restricted since, or of another clinician's patient, does not
 * leak through `_history`.
 */
export async function addCarePolicy(knex: Knex, table: string, compartment: 'self' | 'patient_id'): Promise<void> {
  const current = carePolicy(compartment);
  const histCols = ['id', 'clinic_id', 'version_id', 'last_updated', 'deleted', ...(compartment === 'patient_id' ? ['patient_id'] : []), 'resource', 'security_label'];
  await knex.raw(`
    alter table ${table} add column security_label text check (security_label in ('R', 'V'));
    alter table ${table}_history add column security_label text check (security_label in ('R', 'V'));
    create policy care_team on ${table} as restrictive using (${current}) with check (${careCheck(compartment)});
    create policy care_team on ${table}_history as restrictive using (${careHistoryPolicy(table, compartment)}) with check (${careCheck(compartment)});
    ${keepHistoryFunction(table, histCols)}
  `);
}
