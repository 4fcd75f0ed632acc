import type { Knex } from 'knex';
import type { AuditRecord } from '../audit/record';

/**
 * Privileged changes: audit rows of subtype 110136 (Security Roles Changed), 110137 (User Security
 * Attributes Changed) or 110131 (Software Configuration), whose `detail` holds the state before and
 * after as canonical JSON strings ({ old?, new?, operator? }); shown as a difference by key path.
 */
export const PRIVILEGED_SUBTYPES: Record<string, string> = {
  110136: 'Security roles changed', 110137: 'User security attributes changed', 110131: 'Software configuration',
};

export interface Difference { path: string; kind: 'added' | 'removed' | 'changed'; before?: string; after?: string }
type ChangeDetail = { old?: unknown; new?: unknown; operator?: unknown };

/** Leaves of a JSON value by dotted path (arrays by index); a scalar root is the path "(value)". */
function leaves(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix || '(value)', JSON.stringify(v));
  }
  return out;
}

const parsed = (s: unknown): unknown => {
  if (typeof s !== 'string') return undefined;
  try { return JSON.parse(s); } catch { return s; }
};

export function difference(oldText: unknown, newText: unknown): Difference[] {
  const before = oldText === undefined ? new Map<string, string>() : leaves(parsed(oldText));
  const after = newText === undefined ? new Map<string, string>() : leaves(parsed(newText));
  const out: Difference[] = [];
  for (const [path, v] of after) {
    if (!before.has(path)) out.push({ path, kind: 'added', after: v });
    else if (before.get(path) !== v) out.push({ path, kind: 'changed', before: before.get(path), after: v });
  }
  for (const [path, v] of before) if (!after.has(path)) out.push({ path, kind: 'removed', before: v });
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export interface PrivilegedChange { row: AuditRecord; title: string; operator?: string; diff: Difference[] }

export async function privilegedChanges(trx: Knex.Transaction, clinicId: string, from: string | undefined, to: string | undefined, limit: number): Promise<PrivilegedChange[]> {
  const q = trx('audit_event').where('clinic_id', clinicId).whereIn('subtype', Object.keys(PRIVILEGED_SUBTYPES));
  if (from) q.where('last_updated', '>=', from);
  if (to) q.where('last_updated', '<', to);
  const rows = await q.orderBy([{ column: 'last_updated', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit).select('*') as AuditRecord[];
  return rows.map((row) => {
    const d = (row.detail ?? {}) as ChangeDetail;
    return { row, title: PRIVILEGED_SUBTYPES[row.subtype], operator: typeof d.operator === 'string' ? d.operator : undefined, diff: difference(d.old, d.new) };
  });
}
