import type { Knex } from 'knex';
import type { AuditRecord } from '../audit/record';
import type { AccessFilters } from './filters';

/** A row with its instant as PostgreSQL prints it (microseconds kept: a Date would drop them and break the keyset). */
export type LogRow = AuditRecord & { cursor_at: string };

/**
 * One page of an access log, newest first, keyset-paged on (last_updated, id). Each filter maps to
 * the index it enters by: the clinic and date (audit_event_clinic_date), the user
 * (audit_event_user_date), the patient (audit_event_patient_date, and audit_event_patient for
 * events about several patients, such as a search page, as the API's `patient` search finds them).
 */
export async function accessLogPage(trx: Knex.Transaction, clinicId: string, f: AccessFilters, limit: number): Promise<LogRow[]> {
  const narrow = (q: Knex.QueryBuilder, at: string) => {
    q.where('e.clinic_id', clinicId);
    if (f.from) q.where(at, '>=', f.from);
    if (f.to) q.where(at, '<', f.to);
    if (f.user) q.where('e.user_id', f.user);
    if (f.action) q.where('e.action', f.action);
    if (f.outcome) q.where('e.outcome', f.outcome);
    if (f.purpose) q.where('e.purpose_of_use', f.purpose);
    if (f.type) q.where('e.entity_type', f.type);
    if (f.after) q.whereRaw(`(${at}, e.id) < (?::timestamptz, ?::uuid)`, [f.after.at, f.after.id]);
    return q.orderBy([{ column: at, order: 'desc' }, { column: 'e.id', order: 'desc' }]).limit(limit);
  };
  if (!f.patient) return narrow(trx('audit_event as e').select('e.*', trx.raw('e.last_updated::text as cursor_at')), 'e.last_updated') as Promise<LogRow[]>;
  const single = narrow(trx('audit_event as e').select('e.*', trx.raw('e.last_updated::text as cursor_at')).where('e.patient_id', f.patient), 'e.last_updated');
  const several = narrow(trx('audit_event_patient as p')
    .join('audit_event as e', function () { this.on('e.clinic_id', 'p.clinic_id').andOn('e.id', 'p.id').andOn('e.last_updated', 'p.last_updated'); })
    .select('e.*', trx.raw('e.last_updated::text as cursor_at')).where('p.clinic_id', clinicId).where('p.patient_id', f.patient), 'p.last_updated');
  return trx.select('*').from(trx.raw('((?) union all (?)) as u', [single, several]))
    .orderBy([{ column: 'last_updated', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit) as Promise<LogRow[]>;
}

/** The patients an event concerns. */
export const patientsOf = (r: Pick<AuditRecord, 'patient_id' | 'patient_ids'>): string[] => r.patient_ids ?? (r.patient_id ? [r.patient_id] : []);

/** The resource an event was about, `Type/id` or the type alone (a search). */
export const entityOf = (r: Pick<AuditRecord, 'entity_type' | 'entity_id'>): string => (r.entity_type ? `${r.entity_type}${r.entity_id ? `/${r.entity_id}` : ''}` : '');

export const isoOf = (v: string | Date): string => new Date(v).toISOString();
