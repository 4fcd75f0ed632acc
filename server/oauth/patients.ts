import type { Knex } from 'knex';
import { writeAudit } from '../audit/writer';
import { grants } from '../auth/permissions';
import { currentRequest } from '../http/request-context';
import { withClinic } from '../tenancy/with-clinic';
import { isUuid } from '../http/ids';

export interface PatientChoice { id: string; label: string }

interface PatientRow { id: string; resource: { name?: Array<{ family?: string; given?: string[]; text?: string }>; birthDate?: string } }

const label = (r: PatientRow): string => {
  const n = r.resource.name?.[0];
  const name = n?.text ?? [n?.given?.join(' '), n?.family].filter(Boolean).join(' ');
  return `${name || 'Unnamed patient'}${r.resource.birthDate ? ` (born ${r.resource.birthDate})` : ''}`;
};

/**
 * The patient picker: patients this user may see at the clinic, read as the user inside withClinic
 * (RLS decides the rows, the role must grant search) and audited like any search.
 */
export async function pickablePatients(db: Knex, who: { clinicId: string; userId: string; clientId: string }, query: string): Promise<PatientChoice[]> {
  return withClinic(db, who, async ({ trx, membership }) => {
    const allowed = !!membership && grants(membership.permissions, 'clinical.patients.search');
    const q = query.trim().slice(0, 100);
    const rows: PatientRow[] = allowed
      ? await trx('patient').where({ deleted: false })
        .modify((b) => { if (q) b.whereRaw('sp_name ilike ?', [`%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]); })
        .orderBy('last_updated', 'desc').limit(20).select('id', 'resource')
      : [];
    await writeAudit(trx, {
      interaction: 'search-type', action: 'E', outcome: allowed ? '0' : '4', outcomeDesc: allowed ? 'patient picker' : 'patient picker: role does not grant clinical.patients.search',
      clinicId: who.clinicId, userId: who.userId, clientId: who.clientId, roleName: membership?.role, resourceType: 'Patient',
      sourceIp: currentRequest()?.sourceIp, query: q ? `name=${q}` : '', patientIds: rows.map((r) => r.id),
    });
    return rows.map((r) => ({ id: r.id, label: label(r) }));
  });
}

/** The picked patient, if the user may read it at the clinic (same checks as a FHIR read). */
export async function readablePatient(db: Knex, who: { clinicId: string; userId: string }, patientId: unknown): Promise<PatientChoice | undefined> {
  if (!isUuid(patientId)) return undefined;
  return withClinic(db, who, async ({ trx, membership }) => {
    if (!membership || !grants(membership.permissions, 'clinical.patients.view')) return undefined;
    const row: PatientRow | undefined = await trx('patient').where({ id: patientId, deleted: false }).first('id', 'resource');
    return row ? { id: row.id, label: label(row) } : undefined;
  });
}
