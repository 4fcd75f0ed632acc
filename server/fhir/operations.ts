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
export const OPERATIONS: DeclaredOperation[] = [
  {
    name: 'verify', definition: 'urn:clinic-fhir:OperationDefinition/AuditEvent-verify', levels: ['type'], types: ['AuditEvent'],
    documentation: 'POST, Parameters from/to: checks the clinic\'s sealed audit trail (result valid | invalid | incomplete, issues). Needs compliance.auditEvents.verify.',
  },
  {
    name: 'checkpoint', definition: 'urn:clinic-fhir:OperationDefinition/AuditEvent-checkpoint', levels: ['type'], types: ['AuditEvent'],
    documentation: 'GET: the clinic\'s latest signed audit checkpoint (tree size, head, Ed25519 signature, public key).',
  },
];
