import type { ResourceDefinition } from './types';

const REQUESTER_TARGETS = ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'];

/** MedicationRequest: in the compartment of its subject when that is a Patient. */
export const MedicationRequestDefinition: ResourceDefinition = {
  type: 'MedicationRequest',
  table: 'medication_request',
  compartment: { paths: ['subject'] },
  permission: 'clinical.prescriptions',
  interactions: ['read', 'vread', 'history-instance', 'history-type', 'search', 'create', 'update', 'patch', 'delete'],
  profile: 'https://fhir.clinic.example/StructureDefinition/clinic-medicationrequest',
  search: [
    { name: 'identifier', type: 'token', paths: ['identifier'], description: 'Return prescriptions with this external identifier' },
    { name: 'patient', type: 'reference', paths: ['subject'], targets: ['Patient'], description: 'Returns prescriptions for a specific patient' },
    { name: 'subject', type: 'reference', paths: ['subject'], targets: ['Patient', 'Group'], description: 'The identity of a patient to list orders for' },
    { name: 'status', type: 'token', paths: ['status'], system: 'http://hl7.org/fhir/CodeSystem/medicationrequest-status', description: 'Status of the prescription' },
    { name: 'intent', type: 'token', paths: ['intent'], system: 'http://hl7.org/fhir/CodeSystem/medicationrequest-intent', description: 'Returns prescriptions with different intents' },
    { name: 'authoredon', type: 'date', paths: ['authoredOn'], description: 'Return prescriptions written on this date' },
    // medication[x]: the CodeableConcept variant is searched by `code`, the Reference variant by `medication`.
    { name: 'code', type: 'token', paths: ['medicationCodeableConcept'], description: 'Return prescriptions of this medication code' },
    { name: 'medication', type: 'reference', paths: ['medicationReference'], targets: ['Medication'], description: 'Return prescriptions for this medication reference' },
    { name: 'requester', type: 'reference', paths: ['requester'], targets: REQUESTER_TARGETS, description: 'Returns prescriptions prescribed by this prescriber' },
    { name: 'encounter', type: 'reference', paths: ['encounter'], targets: ['Encounter'], description: 'Return prescriptions with this encounter identifier' },
  ],
};
