import type { Knex } from 'knex';
import type { StaffMember } from './staff';

/**
 * Snooping patterns, computed from the audit trail of one clinic over a window, with the clinic's
 * thresholds (console_alert_settings, migration 036; defaults when the clinic has no row). An
 * alert has a stable key, so its review (console_alert_review) stays attached to it.
 */
export type AlertKind = 'many-patients' | 'after-hours' | 'refusals' | 'same-family' | 'own-record' | 'bulk-export';
export interface Alert { key: string; kind: AlertKind; userId: string; at: string; count: number; detail: string; review?: { by: string; note: string; at: string } }

export const ALERT_TITLES: Record<AlertKind, string> = {
  'many-patients': 'Many patients opened in an hour', 'after-hours': 'Access outside clinic hours', refusals: 'Repeated refusals',
  'same-family': 'Opened a patient with the same family name', 'own-record': 'Opened their own record', 'bulk-export': 'Bulk export',
};

export interface Thresholds { patients_per_hour: number; refusals_per_hour: number; hours_start: number; hours_end: number; time_zone: string }
const DEFAULTS: Thresholds = { patients_per_hour: 50, refusals_per_hour: 5, hours_start: 7, hours_end: 20, time_zone: 'UTC' };

export async function thresholds(trx: Knex.Transaction): Promise<Thresholds> {
  return { ...DEFAULTS, ...(await trx('console_alert_settings').first('patients_per_hour', 'refusals_per_hour', 'hours_start', 'hours_end', 'time_zone') ?? {}) };
}

const iso = (v: string | Date) => new Date(v).toISOString();

/**
 * Every alert in [from, to). A burst of N patients in under an hour is caught whichever clock
 * hour it straddles: hours are counted twice, on the hour and shifted by half an hour.
 */
export async function computeAlerts(trx: Knex.Transaction, clinicId: string, from: string, to: string, staff: StaffMember[]): Promise<Alert[]> {
  const t = await thresholds(trx);
  const win = [clinicId, from, to];
  const alerts: Alert[] = [];
  // A window that qualifies belongs to the day of its first access: the half-hour-shifted window of a
  // burst just after midnight starts the day before, and must not make a second alert there.
  const many = await trx.raw(`
    select user_id, min(first) as at, max(n) as n from (
      select user_id, b, count(distinct patient_id) as n, min(last_updated) as first from (
        select user_id, patient_id, last_updated, date_trunc('hour', last_updated) as b from audit_event
         where clinic_id = ? and last_updated >= ? and last_updated < ? and user_id is not null and patient_id is not null and outcome = '0'
        union all
        select user_id, patient_id, last_updated, date_trunc('hour', last_updated + interval '30 minutes') - interval '30 minutes' from audit_event
         where clinic_id = ? and last_updated >= ? and last_updated < ? and user_id is not null and patient_id is not null and outcome = '0'
      ) x group by user_id, b having count(distinct patient_id) >= ?
    ) y group by user_id, date_trunc('day', first)`, [...win, ...win, t.patients_per_hour]);
  for (const r of many.rows) alerts.push({ key: `many-patients:${r.user_id}:${iso(r.at).slice(0, 10)}`, kind: 'many-patients', userId: r.user_id, at: iso(r.at), count: Number(r.n), detail: `${r.n} distinct patients within an hour (threshold ${t.patients_per_hour})` });

  const refusals = await trx.raw(`
    select user_id, date_trunc('hour', last_updated) as at, count(*) as n from audit_event
     where clinic_id = ? and last_updated >= ? and last_updated < ? and user_id is not null and outcome <> '0'
     group by 1, 2 having count(*) >= ?`, [...win, t.refusals_per_hour]);
  for (const r of refusals.rows) alerts.push({ key: `refusals:${r.user_id}:${iso(r.at)}`, kind: 'refusals', userId: r.user_id, at: iso(r.at), count: Number(r.n), detail: `${r.n} refused requests within an hour (threshold ${t.refusals_per_hour})` });

  const late = await trx.raw(`
    select user_id, (last_updated at time zone ?)::date as day, min(last_updated) as at, count(*) as n from audit_event
     where clinic_id = ? and last_updated >= ? and last_updated < ? and user_id is not null and type = 'rest' and outcome = '0'
       and (patient_id is not null or patient_ids is not null)
       and (extract(hour from last_updated at time zone ?) < ? or extract(hour from last_updated at time zone ?) >= ?)
     group by 1, 2`, [t.time_zone, ...win, t.time_zone, t.hours_start, t.time_zone, t.hours_end]);
  for (const r of late.rows) alerts.push({ key: `after-hours:${r.user_id}:${String(iso(r.day)).slice(0, 10)}`, kind: 'after-hours', userId: r.user_id, at: iso(r.at), count: Number(r.n), detail: `${r.n} accesses to patients outside ${t.hours_start}:00–${t.hours_end}:00 (${t.time_zone})` });

  const exports = await trx.raw(`
    select user_id, id, last_updated as at from audit_event
     where clinic_id = ? and last_updated >= ? and last_updated < ? and user_id is not null and outcome = '0'
       and (subtype in ('export', 'console-export') or query like '%$export%')`, win);
  for (const r of exports.rows) alerts.push({ key: `bulk-export:${r.id}`, kind: 'bulk-export', userId: r.user_id, at: iso(r.at), count: 1, detail: 'an export of records' });

  const linked = staff.filter((s) => s.practitionerId);
  if (linked.length) {
    const own = await trx.raw(`
      select e.user_id, e.entity_id, min(e.last_updated) as at, count(*) as n from audit_event e
        join (select * from unnest(?::text[], ?::text[]) as s(user_id, practitioner_id)) s on s.user_id = e.user_id and s.practitioner_id = e.entity_id
       where e.clinic_id = ? and e.last_updated >= ? and e.last_updated < ? and e.entity_type = 'Practitioner' and e.outcome = '0'
       group by 1, 2`, [linked.map((s) => s.userId), linked.map((s) => s.practitionerId ?? ''), ...win]);
    for (const r of own.rows) alerts.push({ key: `own-record:${r.user_id}:${r.entity_id}`, kind: 'own-record', userId: r.user_id, at: iso(r.at), count: Number(r.n), detail: `opened their own Practitioner record ${r.n} time(s)` });
  }

  // A user's family name: their linked Practitioner's, else the last word of their display name.
  const family = await trx.raw(`
    with s as (select * from unnest(?::text[], ?::text[], ?::text[]) as s(user_id, practitioner_id, display_name)),
    f as (select s.user_id, lower(coalesce((select n->>'family' from practitioner p, jsonb_array_elements(p.resource->'name') n
                                            where p.id::text = s.practitioner_id and n \\? 'family' limit 1),
                                           substring(s.display_name from '([^[:space:]]+)[[:space:]]*$'))) as family from s)
    select e.user_id, e.patient_id, min(e.last_updated) as at, count(*) as n from audit_event e
      join f on f.user_id = e.user_id and f.family is not null
      join patient p on p.id = e.patient_id
     where e.clinic_id = ? and e.last_updated >= ? and e.last_updated < ? and e.outcome = '0'
       and exists (select 1 from jsonb_array_elements(p.resource->'name') n where lower(n->>'family') = f.family)
     group by 1, 2`, [staff.map((s) => s.userId), staff.map((s) => s.practitionerId ?? ''), staff.map((s) => s.displayName ?? ''), ...win]);
  for (const r of family.rows) alerts.push({ key: `same-family:${r.user_id}:${r.patient_id}`, kind: 'same-family', userId: r.user_id, at: iso(r.at), count: Number(r.n), detail: `opened Patient/${r.patient_id}, who has the same family name` });

  const reviews = await trx('console_alert_review').whereIn('alert_key', alerts.map((a) => a.key)).select('alert_key', 'reviewed_by', 'note', 'reviewed_at');
  const byKey = new Map(reviews.map((r: { alert_key: string; reviewed_by: string; note: string; reviewed_at: Date }) => [r.alert_key, { by: r.reviewed_by, note: r.note, at: iso(r.reviewed_at) }]));
  return alerts.map((a) => ({ ...a, review: byKey.get(a.key) })).sort((a, b) => b.at.localeCompare(a.at));
}
