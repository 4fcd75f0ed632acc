/**
 * The operations this server answers, as the CapabilityStatement declares them. Add an entry here
 * when an operation works (and only then): test/fhir/conformance.test.ts calls each one it lists.
 */
export interface DeclaredOperation {
  /** Without the `$`. */
  name: string;
  /** Canonical URL of its OperationDefinition. */
  definition: string;
  /** `system`: [base]/$name; `type`: [base]/[type]/$name; `instance`: [base]/[type]/[id]/$name. */
  levels: ReadonlyArray<'system' | 'type' | 'instance'>;
  /** The types it is invoked on (type and instance levels). */
  types?: readonly string[];
  documentation?: string;
}

// One entry per operation, in any order.
const BULK_EXPORT = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

export const OPERATIONS: DeclaredOperation[] = [
  {
    name: 'export', definition: `${BULK_EXPORT}/export`, levels: ['system'],
    documentation: 'Bulk Data 2.0: GET [base]/$export with Prefer: respond-async; _type, _since, _outputFormat=application/fhir+ndjson; status at [base]/$export-status/{job}',
  },
  {
    name: 'export', definition: `${BULK_EXPORT}/patient-export`, levels: ['type'], types: ['Patient'],
    documentation: 'GET [base]/Patient/$export with Prefer: respond-async; _type, _since, _outputFormat=application/fhir+ndjson',
  },
  {
    name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything', levels: ['type', 'instance'], types: ['Patient'],
    documentation: 'GET Patient/{id}/$everything (or Patient/$everything with a patient in context); _since, _type, _count',
  },
  {
    name: 'verify', definition: 'urn:clinic-fhir:OperationDefinition/AuditEvent-verify', levels: ['type'], types: ['AuditEvent'],
    documentation: 'POST, Parameters from/to: checks the clinic\'s sealed audit trail (result valid | invalid | incomplete, issues). Needs compliance.auditEvents.verify.',
  },
  {
    name: 'checkpoint', definition: 'urn:clinic-fhir:OperationDefinition/AuditEvent-checkpoint', levels: ['type'], types: ['AuditEvent'],
    documentation: 'GET: the clinic\'s latest signed audit checkpoint (tree size, head, Ed25519 signature, public key).',
  },
  // Care relationships and break-glass (server/care), each POST with Parameters unless noted.
  ...[
    ['assign', 'Assigns a user to the patient (care-team policy): Parameters user, end'],
    ['unassign', 'Ends a user\'s assignment to the patient: Parameters user'],
    ['share', 'An assigned clinician shares the patient with another user for at most 30 days: Parameters user, end'],
    ['break-glass', 'POST: emergency access for at most 24 h (category, reason, durationHours); GET: the patient\'s grants'],
    ['break-glass-revoke', 'Revokes a grant: Parameters grant (the patient, the grantee or compliance)'],
    ['break-glass-review', 'Compliance reviews a grant: Parameters grant, decision, note'],
  ].map(([name, documentation]): DeclaredOperation => ({
    name, definition: `https://fhir.clinic.example/OperationDefinition/${name}`, levels: ['instance'], types: ['Patient'], documentation,
  })),
  {
    name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate', levels: ['type', 'instance'],
    types: ['Patient', 'Appointment', 'MedicationRequest', 'DocumentReference', 'Practitioner'],
    documentation: 'POST [type]/$validate or [type]/[id]/$validate, the resource or Parameters resource, mode (create | update | delete): 200 with the findings in an OperationOutcome; nothing is written',
  },
  {
    name: 'set-access-policy', definition: 'https://fhir.clinic.example/OperationDefinition/set-access-policy', levels: ['system'],
    documentation: 'POST [base]/$set-access-policy, Parameters policy (clinic-wide | care-team): the clinic admin sets the access policy',
  },
  {
    name: 'access-report', definition: 'urn:clinic-fhir:OperationDefinition/Patient-access-report', levels: ['instance'], types: ['Patient'],
    documentation: 'GET, from/to (YYYY-MM-DD): who accessed the patient\'s record, one Parameters row per day, accessor, kind and purpose. For the patient\'s own patient/ token or compliance.auditEvents.search.',
  },
];
