import type { Knex } from 'knex';
import { isUuid } from '../http/ids';
import { asAuthServer } from '../oauth/auth-db';

/**
 * Staff names for the pages: the authorization server's read of the directory (the app role sees
 * only its own app_user row), limited to members of the one clinic the page is about. Called only
 * after the page's audited transaction has checked the viewer's permission.
 */
export async function staffLabels(db: Knex, clinicId: string, userIds: Iterable<string>): Promise<Map<string, string>> {
  const ids = [...new Set([...userIds].filter((id) => isUuid(id)))];
  if (!ids.length) return new Map();
  const rows = await asAuthServer(db, (trx) => trx('app_user as u').join('membership as m', 'm.user_id', 'u.id')
    .where('m.clinic_id', clinicId).whereIn('u.id', ids).select('u.id', 'u.email', 'u.display_name')) as Array<{ id: string; email: string; display_name: string | null }>;
  return new Map(rows.map((r) => [r.id, r.display_name ? `${r.display_name} <${r.email}>` : r.email]));
}

/** Members of a clinic with what the alerts compare: the linked Practitioner and a family name. */
export interface StaffMember { userId: string; practitionerId: string | null; displayName: string | null }
export async function clinicStaff(db: Knex, clinicId: string): Promise<StaffMember[]> {
  const rows = await asAuthServer(db, (trx) => trx('membership as m').join('app_user as u', 'u.id', 'm.user_id')
    .where('m.clinic_id', clinicId).select('m.user_id', 'm.practitioner_id', 'u.display_name')) as Array<{ user_id: string; practitioner_id: string | null; display_name: string | null }>;
  return rows.map((r) => ({ userId: r.user_id, practitionerId: r.practitioner_id, displayName: r.display_name }));
}
