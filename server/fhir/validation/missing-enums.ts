// Required code bindings that the official JSON schema leaves without an enum (their ValueSets are
// shared), patched in so MedicationRequest.status "bogus" is refused like Appointment.status "bogus".
// Codes copied from the R4 CodeSystems; test/validation/core-definitions.test.ts checks them.

export const MISSING_ENUMS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  MedicationRequest: {
    status: ['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown'],
    intent: ['proposal', 'plan', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option'],
    priority: ['routine', 'urgent', 'asap', 'stat'],
  },
  DocumentReference: {
    docStatus: ['preliminary', 'final', 'amended', 'entered-in-error'],
  },
  Timing_Repeat: {
    dayOfWeek: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    when: [
      'MORN', 'MORN.early', 'MORN.late', 'NOON', 'AFT', 'AFT.early', 'AFT.late', 'EVE', 'EVE.early', 'EVE.late', 'NIGHT', 'PHS',
      'HS', 'WAKE', 'C', 'CM', 'CD', 'CV', 'AC', 'ACM', 'ACD', 'ACV', 'PC', 'PCM', 'PCD', 'PCV',
    ],
  },
};
