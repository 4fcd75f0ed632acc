import type { Knex } from 'knex';

/** One row of a patient's access report: who touched the record, how, on one day, and how often. */
export interface AccessReportRow {
  day: string;
  /** The accessor's user id (a backend client's id for its system tokens). */
  accessorId: string | null;
  accessorName: string | null;
  role: string | null;
  kind: 'viewed' | 'changed' | 'downloaded' | 'exported';
  purpose: 'care' | 'emergency access' | 'administration' | 'own access';
  /** The break-glass grant an emergency access went through (the audit row's detail.grant), and what it was. */
  grantId: string | null;
  grantCategory: string | null;
  grantReason: string | null;
  /** Whether the grant is still open (then the report says how to revoke it). */
  grantActive: boolean | null;
  /** Resource types touched, as stored (the report words them). */
  types: string[];
  count: number;
  first: string;
  last: string;
}

/** Roles whose work on a record is administration rather than care (default roles; a clinic's own roles count as care). */
export const ADMINISTRATION_ROLES: readonly string[] = ['front-desk', 'billing', 'clinic-admin', 'compliance-officer'];

const UUID_RE = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/**
 * The report's rows, grouped in SQL (a thousand reads by one doctor in a day are one row), read in
 * the caller's RLS transaction: a patient's token sees only its own patient's events. Counted:
 * successful REST accesses whose audit row names this one patient, in [from, to) (UTC days).
 * A break-glass row carries its grant's category and reason, and whether it is still open.
 */
export async function accessReportRows(trx: Knex.Transaction, q: { clinicId: string; patientId: string; from: string; toExclusive: string }): Promise<AccessReportRow[]> {
  const { rows } = await trx.raw(`
    with hits as (
      select to_char(e.last_updated at time zone 'UTC', 'YYYY-MM-DD') as day,
             coalesce(e.user_id, e.client_id) as accessor,
             e.role,
             case when e.subtype like 'export%' then 'exported'
                  when e.entity_type = 'Binary' and e.action = 'R' then 'downloaded'
                  when e.action in ('C', 'U', 'D') then 'changed'
                  else 'viewed' end as kind,
             case when e.purpose_of_use = 'BTG' then 'emergency access'
                  when e.role = 'patient' then 'own access'
                  when e.role = any(?::text[]) then 'administration'
                  else 'care' end as purpose,
             e.detail->>'grant' as grant_id,
             e.entity_type,
             e.last_updated
        from audit_event e
       where e.clinic_id = ?::uuid and e.patient_id = ?::uuid and e.type = 'rest' and e.outcome = '0'
         and e.last_updated >= ?::timestamptz and e.last_updated < ?::timestamptz
    ), r as (
      select day, accessor, role, kind, purpose, grant_id, count(*)::int as count,
             coalesce(array_agg(distinct entity_type) filter (where entity_type is not null), '{}') as types,
             min(last_updated) as first, max(last_updated) as last
        from hits group by day, accessor, role, kind, purpose, grant_id
    )
    select r.day, r.accessor as "accessorId",
           coalesce(c.name, clinic_member_label(case when r.accessor ~ ? then r.accessor::uuid end)) as "accessorName",
           r.role, r.kind, r.purpose, r.grant_id as "grantId", g.category as "grantCategory", g.reason as "grantReason",
           case when g.id is null then null else g.revoked_at is null and g.expires_at > now() end as "grantActive",
           r.types, r.count, r.first, r.last
      from r left join oauth_client c on c.id::text = r.accessor
      left join break_glass_grant g on g.clinic_id = ?::uuid and g.id::text = r.grant_id
     order by r.day, r.first`,
  [[...ADMINISTRATION_ROLES], q.clinicId, q.patientId, q.from, q.toExclusive, UUID_RE, q.clinicId]);
  return (rows as Array<AccessReportRow & { first: Date | string; last: Date | string }>).map((row) => ({
    ...row,
    first: new Date(row.first).toISOString(),
    last: new Date(row.last).toISOString(),
  }));
}
