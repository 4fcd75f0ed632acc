import type { ResourceDefinition } from './types';

/**
 * Practitioner: the clinic's staff directory. In no patient compartment: a patient/ token reads only
 * the practitioners its Patient names as generalPractitioner. References to Practitioner are not
 * checked on write (appointments and prescriptions named practitioners before they were served).
 */
export const PractitionerDefinition: ResourceDefinition = {
  type: 'Practitioner',
  table: 'practitioner',
  compartment: { referencedFrom: { type: 'Patient', param: 'general-practitioner' } },
  permission: 'directory.practitioners',
  interactions: ['read', 'vread', 'history-instance', 'history-type', 'search', 'create', 'update', 'patch', 'delete'],
  profile: 'https://fhir.clinic.example/StructureDefinition/clinic-practitioner',
  referencesUnchecked: true,
  search: [
    { name: 'identifier', type: 'token', paths: ['identifier'], description: 'A practitioner\'s Identifier' },
    { name: 'name', type: 'string', paths: ['name'], description: 'Any part of the name (family, given, prefix, suffix, text)' },
    { name: 'family', type: 'string', paths: ['name.family'], description: 'A portion of the family name' },
    { name: 'given', type: 'string', paths: ['name.given'], description: 'A portion of the given name' },
    { name: 'active', type: 'token', paths: ['active'], description: 'Whether the practitioner record is active' },
  ],
};
