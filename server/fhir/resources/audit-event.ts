import type { ResourceDefinition } from './types';

/** AuditEvent: written by the server only; compliance officers read and search it. */
export const AuditEventDefinition: ResourceDefinition = {
  type: 'AuditEvent',
  table: 'audit_event',
  compartment: { paths: ['entity.what'] },
  interactions: ['read', 'search'],
  serverWritten: true,
  // Kept in audit_event_search (migration 020): the others filter what date, patient or agent found.
  indexedParams: ['patient', 'agent'],
  partitionedBy: 'last_updated',
  search: [
    { name: 'date', type: 'date', paths: ['recorded'], column: 'last_updated', description: 'Time when the event was recorded' },
    { name: 'agent', type: 'reference', paths: ['agent.who'], description: 'Identifier of who (fhirUser reference or user id)' },
    { name: 'entity', type: 'reference', paths: ['entity.what'], description: 'Specific instance of resource' },
    { name: 'patient', type: 'reference', paths: ['entity.what'], targets: ['Patient'], description: 'Identity of the patient the event is about' },
    { name: 'action', type: 'token', paths: ['action'], system: 'http://hl7.org/fhir/audit-event-action', description: 'Type of action performed during the event' },
    { name: 'type', type: 'token', paths: ['type'], description: 'Type/identifier of event' },
    { name: 'subtype', type: 'token', paths: ['subtype'], description: 'More specific type/id for the event' },
    { name: 'outcome', type: 'token', paths: ['outcome'], system: 'http://hl7.org/fhir/audit-event-outcome', description: 'Whether the event succeeded or failed' },
    { name: 'source', type: 'reference', paths: ['source.observer'], description: 'The identity of source detecting the event' },
    { name: 'entity-type', type: 'token', paths: ['entity.type'], description: 'Type of entity involved' },
    { name: 'agent-role', type: 'token', paths: ['agent.role'], description: 'Agent role in the event' },
  ],
};
