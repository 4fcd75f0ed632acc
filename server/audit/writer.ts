import type { Knex } from 'knex';
import { AuditEventDefinition } from '../fhir/resources/audit-event';
import { extractSearchColumns } from '../fhir/search/extract';
import { withClinic } from '../tenancy/with-clinic';
import { type AuditFacts, buildAuditEvent } from './balp';

/**
 * Appends one AuditEvent inside the caller's transaction, so the audit row and the data access
 * commit together (no audit row, no data).
 */
export async function writeAudit(trx: Knex.Transaction, facts: AuditFacts): Promise<string> {
  const event = buildAuditEvent(facts);
  const patients = [...new Set(facts.patientIds ?? [])];
  await trx('audit_event').insert({
    id: event.id,
    clinic_id: facts.clinicId,
    version_id: 1,
    last_updated: event.recorded,
    patient_id: patients.length === 1 ? patients[0] : null,
    resource: JSON.stringify(event),
    ...extractSearchColumns(AuditEventDefinition, event),
  });
  return event.id;
}

/**
 * Records an event outside a request transaction: refusals before one exists (a 401 for a known
 * user, no membership) and serious failures after a rollback. The row goes to the clinic the token
 * named; events with no trustworthy clinic are kept with clinic_id NULL for operators.
 */
export async function recordAudit(db: Knex, facts: AuditFacts): Promise<void> {
  await withClinic(db, { clinicId: facts.clinicId ?? '', userId: facts.userId ?? '' }, ({ trx }) => writeAudit(trx, facts));
}
