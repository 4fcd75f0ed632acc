import type { AuditEvent } from 'fhir/r4';
import type { Knex } from 'knex';
import { AuditEventDefinition } from '../fhir/resources/audit-event';
import { extractSearchColumns } from '../fhir/search/extract';
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
    ...extractSearchColumns(AuditEventDefinition, event),
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
