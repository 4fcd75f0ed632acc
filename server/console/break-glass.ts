import type { Knex } from 'knex';
import type { AuditRecord } from '../audit/record';
import type { GrantRow } from '../care/grants';
import { badRequest, notFound } from '../http/errors';
import { isUuid } from '../http/ids';
import { asAuthServer } from '../oauth/auth-db';
import type { AuditedTx } from '../pipeline/audited';
import { parseFilters } from './filters';
import type { Card } from './pages';

/**
 * The break-glass review screen's queries, in the viewer's RLS transaction: the clinic's grants
 * (pending reviews first), and one grant with the events of its life and every access made under
 * it (audit rows of the grantee with purpose of use BTG naming the grant).
 */
export const REVIEW_STATUSES = { pending: 'pending', appropriate: 'appropriate', inappropriate: 'inappropriate', 'needs-info': 'needs information' } as const;
export type ReviewStatus = keyof typeof REVIEW_STATUSES;

export interface GrantFilters { status?: ReviewStatus; from?: string; to?: string }
export type Grant = GrantRow & { reviewed_by: string | null };
export interface GrantEvent { kind: string; actor: string; at: Date; detail: Record<string, unknown> | null }
export interface GrantDetail { grant: Grant; events: GrantEvent[]; accesses: AuditRecord[] }

const KNOWN = new Set(['status', 'from', 'to']);

/** status, from and to (the day a grant was made), strictly: a 400 names the field, never the value. */
export function parseGrantFilters(q: Record<string, unknown>): GrantFilters {
  for (const [k, v] of Object.entries(q)) {
    if (!KNOWN.has(k)) throw badRequest(`Unknown filter "${k.slice(0, 40)}"`);
    if (typeof v !== 'string') throw badRequest(`"${k}" was given more than once`);
  }
  const status = typeof q.status === 'string' ? q.status.trim() : '';
  if (status && !Object.hasOwn(REVIEW_STATUSES, status)) throw badRequest(`"status" must be one of: ${Object.keys(REVIEW_STATUSES).join(', ')}`);
  const { from, to } = parseFilters({ ...(q.from !== undefined ? { from: q.from } : {}), ...(q.to !== undefined ? { to: q.to } : {}) });
  return { status: status ? status as ReviewStatus : undefined, from, to };
}

/** The clinic's grants, pending reviews first, then newest first. */
export async function grantList(trx: Knex.Transaction, clinicId: string, f: GrantFilters, limit: number): Promise<Grant[]> {
  const q = trx<Grant>('break_glass_grant').where('clinic_id', clinicId);
  if (f.status) q.where('review_status', f.status);
  if (f.from) q.where('created_at', '>=', f.from);
  if (f.to) q.where('created_at', '<', f.to);
  return q.orderByRaw("(review_status = 'pending') desc, created_at desc, id desc").limit(limit).select('*');
}

/** A grant's request and grant share one instant (one transaction): its life's order breaks the tie. */
const LIFE_ORDER = ['requested', 'refused', 'granted', 'first-use', 'revoked', 'expired', 'reviewed'];

/** Accesses under a grant are recorded while it is active; a minute's slack covers a commit at the edge. */
const SLACK = "interval '1 minute'";

export async function grantDetail(trx: Knex.Transaction, clinicId: string, id: string): Promise<GrantDetail> {
  const grant = isUuid(id) ? await trx('break_glass_grant').where({ clinic_id: clinicId, id: id.toLowerCase() }).first() as Grant | undefined : undefined;
  if (!grant) throw notFound('No such break-glass grant at this clinic');
  const events = await trx('break_glass_event').where({ clinic_id: clinicId, grant_id: grant.id })
    .orderBy('at').orderByRaw('array_position(?::text[], kind), id', [LIFE_ORDER]).select('kind', 'actor', 'at', 'detail') as GrantEvent[];
  // The grantee's own rows within the grant's window (audit_event_user_date), the life events (security) apart.
  const accesses = await trx('audit_event').where({ clinic_id: clinicId, user_id: grant.user_id, purpose_of_use: 'BTG' })
    .where('last_updated', '>=', grant.created_at)
    .whereRaw(`last_updated <= coalesce(?::timestamptz, ?::timestamptz) + ${SLACK}`, [grant.revoked_at, grant.expires_at])
    .whereNot('type', 'security').whereRaw("detail->>'grant' = ?", [grant.id])
    .orderBy([{ column: 'last_updated', order: 'asc' }, { column: 'id', order: 'asc' }]).limit(1000).select('*') as AuditRecord[];
  return { grant, events, accesses };
}

/** The role each user holds at the clinic now, as the authorization server reads the directory. */
export async function staffRoles(db: Knex, clinicId: string, userIds: Iterable<string>): Promise<Map<string, string>> {
  const ids = [...new Set([...userIds].filter((u) => isUuid(u)))];
  if (!ids.length) return new Map();
  const rows = await asAuthServer(db, (trx) => trx('membership as m').join('role as r', function () { this.on('r.clinic_id', 'm.clinic_id').andOn('r.id', 'm.role_id'); })
    .where('m.clinic_id', clinicId).whereIn('m.user_id', ids).select('m.user_id', 'r.name')) as Array<{ user_id: string; name: string }>;
  return new Map(rows.map((r) => [r.user_id, r.name]));
}

/** The overview's card: grants waiting for a review decision (of any age: a review is never dropped). */
export async function pendingReviewsCard(tx: AuditedTx, clinicId: string): Promise<Card> {
  const row = await tx.trx('break_glass_grant').where({ clinic_id: clinicId, review_status: 'pending' }).count({ n: '*' }).first();
  return { label: 'Pending break-glass reviews', value: String(row?.n ?? 0), href: '/console/break-glass?status=pending' };
}
