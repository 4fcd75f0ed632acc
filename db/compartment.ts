/**
 * How the rows of a resource table relate to a patient's compartment, and the RESTRICTIVE policy
 * that confines patient/ tokens (app_patient_id() set) accordingly:
 *  - `self`: the row is a patient (Patient): its id is the compartment.
 *  - `patient_id`: the row carries the patient whose compartment holds it.
 *  - `{ referencedFrom }`: the row is in no compartment (Practitioner); a patient/ token sees the
 *    rows its own Patient row references in one reference column, and writes none.
 */
export interface ReferencedFrom {
  referencedFrom: {
    /** The patient table, and its reference column (`Type/id` entries) naming the rows a patient may see. */
    table: string;
    column: string;
    /** The resource type of the rows, as it appears in the reference values (`Practitioner`). */
    type: string;
  };
}
export type TableCompartment = 'self' | 'patient_id' | ReferencedFrom;

/** The expression giving a row's compartment patient (null: none), with `row` the row alias (`new`, `t`). */
export function compartmentPatientOf(compartment: TableCompartment, row: string): string {
  if (compartment === 'self') return `${row}.id`;
  if (compartment === 'patient_id') return `${row}.patient_id`;
  return 'null::uuid';
}

/** USING and WITH CHECK of the RESTRICTIVE `patient_compartment` policy on `table` (its rows' patient in `patientCol`). */
export function compartmentPolicy(compartment: TableCompartment, table: string, patientCol: string): { using: string; check: string } {
  if (typeof compartment === 'string') {
    const own = `app_patient_id() is null or ${patientCol} = app_patient_id()`;
    return { using: own, check: own };
  }
  const { table: patients, column, type } = compartment.referencedFrom;
  // `${table}.id`: the policy's own row, not the patient row of the subquery.
  const referenced = `exists (select 1 from ${patients} r where r.id = app_patient_id() and not r.deleted`
    + ` and r.${column} @> array['${type}/' || ${table}.id::text])`;
  return { using: `app_patient_id() is null or ${referenced}`, check: 'app_patient_id() is null' };
}
