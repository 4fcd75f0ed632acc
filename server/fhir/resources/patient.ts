import type { ResourceDefinition } from './types';

export const PatientDefinition: ResourceDefinition = {
  type: 'Patient',
  table: 'patient',
  compartment: 'self',
  permission: 'clinical.patients',
  interactions: ['read', 'vread', 'history-instance', 'history-type', 'search', 'create', 'update', 'patch', 'delete'],
  profile: 'https://fhir.clinic.example/StructureDefinition/clinic-patient',
  search: [
    { name: 'identifier', type: 'token', paths: ['identifier'], description: 'A patient identifier' },
    { name: 'name', type: 'string', paths: ['name'], description: 'Any part of the name (family, given, prefix, suffix, text)' },
    { name: 'family', type: 'string', paths: ['name.family'], description: 'A portion of the family name' },
    { name: 'given', type: 'string', paths: ['name.given'], description: 'A portion of the given name' },
    { name: 'birthdate', type: 'date', paths: ['birthDate'], description: "The patient's date of birth" },
    { name: 'gender', type: 'token', paths: ['gender'], system: 'http://hl7.org/fhir/administrative-gender', description: 'Gender of the patient' },
    { name: 'telecom', type: 'token', paths: ['telecom'], description: 'The value in any kind of telecom details' },
    { name: 'phone', type: 'token', paths: ['telecom[system=phone]'], description: 'A value in a phone contact' },
    { name: 'email', type: 'token', paths: ['telecom[system=email]'], description: 'A value in an email contact' },
    { name: 'address', type: 'string', paths: ['address'], description: 'Any part of an address' },
    { name: 'address-city', type: 'string', paths: ['address.city'], description: 'A city specified in an address' },
    { name: 'address-postalcode', type: 'string', paths: ['address.postalCode'], description: 'A postal code specified in an address' },
    { name: 'active', type: 'token', paths: ['active'], description: 'Whether the patient record is active' },
    { name: 'general-practitioner', type: 'reference', paths: ['generalPractitioner'], targets: ['Practitioner', 'Organization', 'PractitionerRole'], description: "Patient's nominated general practitioner" },
    { name: 'organization', type: 'reference', paths: ['managingOrganization'], targets: ['Organization'], description: 'The organization that is the custodian of the patient record' },
  ],
};
