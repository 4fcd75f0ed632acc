// Minimal valid resources of each validated type; every call returns a fresh object to mutate.
import type { Appointment, AuditEvent, DocumentReference, MedicationRequest, OperationOutcomeIssue, Patient } from 'fhir/r4';

export function patient(): Patient {
  return { resourceType: 'Patient', id: 'p1', name: [{ family: 'Chalmers', given: ['Peter', 'James'] }], gender: 'male', birthDate: '1974-12-25' };
}

export function appointment(): Appointment {
  return {
    resourceType: 'Appointment',
    status: 'booked',
    start: '2024-03-01T09:00:00Z',
    end: '2024-03-01T09:30:00Z',
    participant: [
      { actor: { reference: 'Patient/p1' }, status: 'accepted' },
      { actor: { reference: 'Practitioner/d1' }, status: 'accepted' },
    ],
  };
}

export function medicationRequest(): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { text: 'Amoxicillin 500 mg capsule' },
    subject: { reference: 'Patient/p1' },
    authoredOn: '2024-03-01',
  };
}

export function documentReference(): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    subject: { reference: 'Patient/p1' },
    content: [{ attachment: { contentType: 'application/pdf', data: 'JVBERi0xLjQK' } }],
  };
}

export function auditEvent(): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    action: 'R',
    recorded: '2024-03-01T09:00:00.123Z',
    outcome: '0',
    agent: [{ who: { reference: 'Practitioner/d1' }, requestor: true }],
    source: { observer: { display: 'clinic FHIR server' } },
    entity: [{ what: { reference: 'Patient/p1' } }],
  };
}

/** `resource` with its types erased, so a test can break it in ways the R4 types forbid. */
export function loose(resource: object): Record<string, unknown> {
  return resource as Record<string, unknown>;
}

/** One-line summaries, for assertion messages that show what was actually reported. */
export function summary(issues: OperationOutcomeIssue[]): string {
  return issues.map((i) => `[${i.code}] ${i.diagnostics}`).join('\n');
}

/** The single issue at `expression`, failing with the full list when there is not exactly one. */
export function only(issues: OperationOutcomeIssue[], expression: string): OperationOutcomeIssue {
  const at = issues.filter((i) => i.expression?.[0] === expression);
  if (at.length !== 1) throw new Error(`expected one issue at ${expression}, got:\n${summary(issues) || '(none)'}`);
  return at[0];
}
