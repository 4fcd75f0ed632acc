import type { AuditEvent } from 'fhir/r4';
import type { Knex } from 'knex';
import type { AuditRecord } from '../../server/audit/record';
import { renderAuditEvent } from '../../server/audit/render';
import { admin } from './server';

/** AuditEvents as the API renders them, of the audit rows `narrow` selects (read as the migration account, oldest first). */
export async function auditEvents(narrow: (q: Knex.QueryBuilder) => Knex.QueryBuilder = (q) => q): Promise<Array<AuditEvent & { id: string }>> {
  const rows = await narrow((await admin())('audit_event')).orderBy('last_updated').select('*') as AuditRecord[];
  return rows.map(renderAuditEvent);
}

export interface Recorded { subtype: string; action: string; outcome: string; entity: string; outcomeDesc: string }

/** Every AuditEvent recorded for a user (agent altId), oldest first, read as the migration account. */
export async function auditOf(userId: string): Promise<Recorded[]> {
  const events = await auditEvents((q) => q.where({ user_id: userId }));
  return events.map((r) => ({
    subtype: r.subtype?.[0].code ?? '',
    action: r.action ?? '',
    outcome: r.outcome ?? '',
    entity: (r.entity ?? []).map((e) => e.what?.reference ?? e.what?.display ?? '').filter(Boolean).join(' '),
    outcomeDesc: r.outcomeDesc ?? '',
  }));
}
