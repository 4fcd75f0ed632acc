import type { AuditEvent } from 'fhir/r4';
import type { Knex } from 'knex';
import { AuditEventDefinition } from '../fhir/resources/audit-event';
import { pgInstant } from '../fhir/search/extract';
import { dateRange, referencesOf, tokenEntries, tokensOf } from '../fhir/search/values';
import { insertLiteral } from '../../db/literal';
import { withClinic } from '../tenancy/with-clinic';
import { type AuditFacts, buildAuditEvent } from './balp';

/**
 * Appends one AuditEvent inside the caller's transaction, so the audit row and the data access
 * commit together (no audit row, no data).
 */
export async function writeAudit(trx: Knex.Transaction, facts: AuditFacts): Promise<string> {
  return insertAuditEvent(trx, buildAuditEvent(facts), facts.clinicId, facts.patientIds);
}

/** The INSERT of one AuditEvent with literal values, to run with the COMMIT of the caller's transaction. */
export function auditInsertSql(facts: AuditFacts): string {
  const event = buildAuditEvent(facts);
  return insertLiteral('audit_event', auditRow(event, facts.clinicId, facts.patientIds));
}

/** Appends an AuditEvent already built (e.g. the authorization server's sign-in events). */
export async function insertAuditEvent(trx: Knex.Transaction, event: AuditEvent & { id: string; recorded: string }, clinicId: string | null, patientIds?: string[]): Promise<string> {
  await trx('audit_event').insert(auditRow(event, clinicId, patientIds));
  return event.id;
}

/** The audit_event row of an event (the data generator writes the same). */
export function auditRow(event: AuditEvent & { id: string; recorded: string }, clinicId: string | null, patientIds?: string[]): Record<string, unknown> {
  const patients = [...new Set(patientIds ?? [])];
  return {
    id: event.id,
    clinic_id: clinicId,
    version_id: 1,
    last_updated: event.recorded,
    patient_id: patients.length === 1 ? patients[0] : null,
    resource: JSON.stringify(event),
    ...auditSearchColumns(event),
  };
}

// The implicit systems of AuditEvent's code-typed token parameters (resources/audit-event.ts).
const SYSTEM_OF = Object.fromEntries(AuditEventDefinition.search.filter((p) => p.system).map((p) => [p.name, p.system as string]));
const orNull = <T>(xs: T[]): T[] | null => (xs.length ? xs : null);
const refs = (vs: unknown[], targets?: string[]) => orNull([...new Set(vs.flatMap((v) => referencesOf(v, targets)))]);
const tokens = (vs: unknown[], system?: string) => orNull(tokenEntries(vs.flatMap((v) => tokensOf(v, system))));

/**
 * The search columns of an AuditEvent the server built: what extractSearchColumns finds for
 * AuditEventDefinition (test/audit/audit-columns.test.ts holds the two equal), read straight off the
 * known shape instead of walking paths. Every request writes one.
 */
export function auditSearchColumns(event: AuditEvent): Record<string, unknown> {
  const agents = event.agent ?? [];
  const entities = event.entity ?? [];
  const what = entities.map((e) => e.what).filter((w) => w !== undefined);
  const span = event.recorded ? dateRange(event.recorded) : null;
  return {
    sp_date_lo: span ? pgInstant(span[0]) : null,
    sp_date_hi: span ? pgInstant(span[1]) : null,
    sp_agent: refs(agents.map((a) => a.who).filter((w) => w !== undefined)),
    sp_entity: refs(what),
    sp_patient: refs(what, ['Patient']),
    sp_action: tokens(event.action === undefined ? [] : [event.action], SYSTEM_OF.action),
    sp_type: tokens([event.type]),
    sp_subtype: tokens(event.subtype ?? []),
    sp_outcome: tokens(event.outcome === undefined ? [] : [event.outcome], SYSTEM_OF.outcome),
    sp_source: refs(event.source?.observer ? [event.source.observer] : []),
    sp_entity_type: tokens(entities.map((e) => e.type).filter((t) => t !== undefined)),
    sp_agent_role: tokens(agents.flatMap((a) => a.role ?? [])),
  };
}

/**
 * Records an event outside a request transaction: refusals before one exists (a 401 for a known
 * user, no membership) and serious failures after a rollback. The row goes to the clinic the token
 * named; events with no trustworthy clinic are kept with clinic_id NULL for operators.
 */
export async function recordAudit(db: Knex, facts: AuditFacts): Promise<void> {
  await withClinic(db, { clinicId: facts.clinicId ?? '', userId: facts.userId ?? '' }, ({ trx }) => writeAudit(trx, facts));
}
