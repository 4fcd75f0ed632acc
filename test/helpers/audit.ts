import { admin } from './server';

export interface Recorded { subtype: string; action: string; outcome: string; entity: string; outcomeDesc: string }

/** Every AuditEvent recorded for a user (agent altId), oldest first, read as the migration account. */
export async function auditOf(userId: string): Promise<Recorded[]> {
  const rows = await (await admin())('audit_event')
    .whereRaw("exists (select 1 from jsonb_array_elements(resource->'agent') a where a->>'altId' = ?)", [userId])
    .orderBy('last_updated')
    .select('resource') as Array<{ resource: { subtype: Array<{ code: string }>; action: string; outcome: string; outcomeDesc?: string; entity?: Array<{ what?: { display?: string; reference?: string } }> } }>;
  return rows.map(({ resource: r }) => ({
    subtype: r.subtype[0].code,
    action: r.action,
    outcome: r.outcome,
    entity: (r.entity ?? []).map((e) => e.what?.reference ?? e.what?.display ?? '').filter(Boolean).join(' '),
    outcomeDesc: r.outcomeDesc ?? '',
  }));
}
