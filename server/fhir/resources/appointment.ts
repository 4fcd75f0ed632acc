import type { ResourceDefinition } from './types';

const ACTOR_TARGETS = ['Patient', 'Practitioner', 'PractitionerRole', 'RelatedPerson', 'Device', 'HealthcareService', 'Location'];

/** Appointment: in the compartment of each Patient among its participants (the first one keys RLS). */
export const AppointmentDefinition: ResourceDefinition = {
  type: 'Appointment',
  table: 'appointment',
  compartment: { paths: ['participant.actor'] },
  permission: 'scheduling.appointments',
  interactions: ['read', 'vread', 'history-instance', 'history-type', 'search', 'create', 'update', 'patch', 'delete'],
  profile: 'https://fhir.clinic.example/StructureDefinition/clinic-appointment',
  search: [
    { name: 'identifier', type: 'token', paths: ['identifier'], description: 'An Identifier of the Appointment' },
    { name: 'patient', type: 'reference', paths: ['participant.actor'], targets: ['Patient'], description: 'One of the individuals of the appointment is this patient' },
    { name: 'actor', type: 'reference', paths: ['participant.actor'], targets: ACTOR_TARGETS, description: 'Any one of the individuals participating in the appointment' },
    { name: 'practitioner', type: 'reference', paths: ['participant.actor'], targets: ['Practitioner'], description: 'One of the individuals of the appointment is this practitioner' },
    { name: 'date', type: 'date', paths: ['start'], description: 'Appointment date/time' },
    { name: 'status', type: 'token', paths: ['status'], system: 'http://hl7.org/fhir/appointmentstatus', description: 'The overall status of the appointment' },
    { name: 'service-type', type: 'token', paths: ['serviceType'], description: 'The specific service that is to be performed during this appointment' },
    { name: 'appointment-type', type: 'token', paths: ['appointmentType'], description: 'The style of appointment or patient that has been booked in the slot (not service type)' },
  ],
};
