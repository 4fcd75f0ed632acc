// FHIR R4 invariants (keys and texts from the core StructureDefinitions) as code, keyed by the
// JSON schema definition they sit on, so they run wherever that type appears, at any depth.

import { certainlyAfter, certainlyNotBefore } from './datetime';
import { arrayAt, hasChoice, hasElement as has, numberAt, objectAt, stringAt, type JsonObject } from './json';

export interface Invariant {
  key: string;
  human: string;
  holds: (node: JsonObject) => boolean;
  /** Child element the issue points at; default the element that carries the invariant. */
  at?: string;
}

const UCUM = 'http://unitsofmeasure.org';

const ucumOrNone = (n: JsonObject): boolean => !has(n, 'system') || stringAt(n, 'system') === UCUM;
const codeIfValue = (n: JsonObject): boolean => has(n, 'code') || !has(n, 'value');
const implies = (a: boolean, b: boolean): boolean => !a || b;

const qty3: Invariant = {
  key: 'qty-3',
  human: 'If a code for the unit is present, the system SHALL also be present',
  holds: (n) => implies(has(n, 'code'), has(n, 'system')),
};

function pathXorSearchParam(key: string): Invariant {
  return {
    key,
    human: 'Either a path or a searchParam must be provided, but not both',
    holds: (n) => has(n, 'path') !== has(n, 'searchParam'),
  };
}

// Quantities compare only when both carry a number in the same unit; otherwise FHIRPath gives empty.
function quantityAbove(low: JsonObject | undefined, high: JsonObject | undefined): boolean {
  const [a, b] = [low && numberAt(low, 'value'), high && numberAt(high, 'value')];
  if (a === undefined || b === undefined || !low || !high) return false;
  const unit = (q: JsonObject): string => `${stringAt(q, 'system') ?? ''}|${stringAt(q, 'code') ?? stringAt(q, 'unit') ?? ''}`;
  return unit(low) === unit(high) && a > b;
}

export const INVARIANTS: Readonly<Record<string, readonly Invariant[]>> = {
  Period: [
    {
      key: 'per-1',
      human: 'If present, start SHALL have a lower value than end',
      holds: (n) => {
        const [start, end] = [stringAt(n, 'start'), stringAt(n, 'end')];
        return start === undefined || end === undefined || !certainlyAfter(start, end);
      },
    },
  ],
  Range: [
    {
      key: 'rng-2',
      human: 'If present, low SHALL have a lower value than high',
      holds: (n) => !quantityAbove(objectAt(n, 'low'), objectAt(n, 'high')),
    },
  ],
  Ratio: [
    {
      key: 'rat-1',
      human: 'Numerator and denominator SHALL both be present, or both are absent. If both are absent, there SHALL be some extension present',
      holds: (n) => has(n, 'numerator') === has(n, 'denominator') && (has(n, 'numerator') || has(n, 'extension')),
    },
  ],
  Quantity: [qty3],
  Duration: [
    qty3,
    {
      key: 'drt-1',
      human: 'There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is present, it SHALL be UCUM.',
      holds: (n) => implies(has(n, 'code'), stringAt(n, 'system') === UCUM && has(n, 'value')),
    },
  ],
  Age: [
    qty3,
    {
      key: 'age-1',
      human: 'There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is present, it SHALL be UCUM.  If value is present, it SHALL be positive.',
      holds: (n) => codeIfValue(n) && ucumOrNone(n) && (numberAt(n, 'value') ?? 1) > 0,
    },
  ],
  Count: [
    qty3,
    {
      key: 'cnt-3',
      human: 'There SHALL be a code with a value of "1" if there is a value. If system is present, it SHALL be UCUM.  If present, the value SHALL be a whole number.',
      holds: (n) =>
        codeIfValue(n) &&
        ucumOrNone(n) &&
        implies(has(n, 'code'), stringAt(n, 'code') === '1') &&
        Number.isInteger(numberAt(n, 'value') ?? 0),
    },
  ],
  Distance: [
    qty3,
    {
      key: 'dis-1',
      human: 'There SHALL be a code if there is a value and it SHALL be an expression of length.  If system is present, it SHALL be UCUM.',
      holds: (n) => codeIfValue(n) && ucumOrNone(n),
    },
  ],
  Attachment: [
    {
      key: 'att-1',
      human: 'If the Attachment has data, it SHALL have a contentType',
      holds: (n) => implies(has(n, 'data'), has(n, 'contentType')),
    },
  ],
  ContactPoint: [
    {
      key: 'cpt-2',
      human: 'A system is required if a value is provided.',
      holds: (n) => implies(has(n, 'value'), has(n, 'system')),
    },
  ],
  Extension: [
    {
      key: 'ext-1',
      human: 'Must have either extensions or value[x], not both',
      holds: (n) => has(n, 'extension') !== hasChoice(n, 'value'),
    },
  ],
  Timing_Repeat: [
    { key: 'tim-1', human: "if there's a duration, there needs to be duration units", holds: (n) => implies(has(n, 'duration'), has(n, 'durationUnit')) },
    { key: 'tim-2', human: "if there's a period, there needs to be period units", holds: (n) => implies(has(n, 'period'), has(n, 'periodUnit')) },
    { key: 'tim-4', human: 'duration SHALL be a non-negative value', holds: (n) => (numberAt(n, 'duration') ?? 0) >= 0 },
    { key: 'tim-5', human: 'period SHALL be a non-negative value', holds: (n) => (numberAt(n, 'period') ?? 0) >= 0 },
    { key: 'tim-6', human: "If there's a periodMax, there must be a period", holds: (n) => implies(has(n, 'periodMax'), has(n, 'period')) },
    { key: 'tim-7', human: "If there's a durationMax, there must be a duration", holds: (n) => implies(has(n, 'durationMax'), has(n, 'duration')) },
    { key: 'tim-8', human: "If there's a countMax, there must be a count", holds: (n) => implies(has(n, 'countMax'), has(n, 'count')) },
    {
      key: 'tim-9',
      human: "If there's an offset, there must be a when (and not C, CM, CD, CV)",
      holds: (n) => {
        const when = arrayAt(n, 'when');
        return implies(has(n, 'offset'), when.length > 0 && !when.some((w) => ['C', 'CM', 'CD', 'CV'].includes(String(w))));
      },
    },
    { key: 'tim-10', human: "If there's a timeOfDay, there cannot be a when, or vice versa", holds: (n) => !(has(n, 'timeOfDay') && has(n, 'when')) },
  ],
  Expression: [
    { key: 'exp-1', human: 'An expression or a reference must be provided', holds: (n) => has(n, 'expression') || has(n, 'reference') },
  ],
  TriggerDefinition: [
    { key: 'trd-1', human: 'Either timing, or a data requirement, but not both', holds: (n) => !(has(n, 'data') && hasChoice(n, 'timing')) },
    { key: 'trd-2', human: 'A condition only if there is a data requirement', holds: (n) => implies(has(n, 'condition'), has(n, 'data')) },
    {
      key: 'trd-3',
      human: 'A named event requires a name, a periodic event requires timing, and a data event requires data',
      holds: (n) => {
        const type = stringAt(n, 'type') ?? '';
        return (
          implies(type === 'named-event', has(n, 'name')) &&
          implies(type === 'periodic', hasChoice(n, 'timing')) &&
          implies(type.startsWith('data-'), has(n, 'data'))
        );
      },
    },
  ],
  DataRequirement_CodeFilter: [pathXorSearchParam('drq-1')],
  DataRequirement_DateFilter: [pathXorSearchParam('drq-2')],
  Patient_Contact: [
    {
      key: 'pat-1',
      human: "SHALL at least contain a contact's details or a reference to an organization",
      holds: (n) => has(n, 'name') || has(n, 'telecom') || has(n, 'address') || has(n, 'organization'),
    },
  ],
  Appointment: [
    { key: 'app-2', human: 'Either start and end are specified, or neither', holds: (n) => has(n, 'start') === has(n, 'end') },
    {
      key: 'app-3',
      human: 'Only proposed or cancelled appointments can be missing start/end dates',
      holds: (n) => (has(n, 'start') && has(n, 'end')) || ['proposed', 'cancelled', 'waitlist'].includes(stringAt(n, 'status') ?? ''),
    },
    {
      key: 'app-4',
      human: 'Cancelation reason is only used for appointments that have been cancelled, or no-show',
      // R4's expression says 'no-show' but the AppointmentStatus code is 'noshow' (a spec typo): accept both.
      holds: (n) => implies(has(n, 'cancelationReason'), ['noshow', 'no-show', 'cancelled'].includes(stringAt(n, 'status') ?? '')),
      at: 'cancelationReason',
    },
    {
      // Not in the R4 spec: a clinic rule, since a booking that ends when (or before) it starts is a typo.
      key: 'clinic-app-1',
      human: 'An appointment SHALL start before it ends',
      holds: (n) => {
        const [start, end] = [stringAt(n, 'start'), stringAt(n, 'end')];
        return start === undefined || end === undefined || !certainlyNotBefore(start, end);
      },
      at: 'end',
    },
  ],
  Appointment_Participant: [
    { key: 'app-1', human: 'Either the type or actor on the participant SHALL be specified', holds: (n) => has(n, 'type') || has(n, 'actor') },
  ],
  AuditEvent_Entity: [
    { key: 'sev-1', human: 'Either a name or a query (NOT both)', holds: (n) => !(has(n, 'name') && has(n, 'query')) },
  ],
};
