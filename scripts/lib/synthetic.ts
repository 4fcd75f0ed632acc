/**
 * Synthetic clinic data: deterministic (seeded) Patient, Appointment and MedicationRequest bodies
 * shaped like what an EHR posts, valid against the R4 schema and the clinic profiles.
 */
import type { FhirResource } from '../../server/fhir/repository';

/** A small fast PRNG (mulberry32): the same seed gives the same dataset. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const pad = (n: number, w: number) => String(n).padStart(w, '0');

const ONSETS = ['Ab', 'Bar', 'Cal', 'Dor', 'El', 'Fen', 'Gar', 'Hal', 'Ivo', 'Jor', 'Kov', 'Lun', 'Mar', 'Nor', 'Ost', 'Pel', 'Quin', 'Ros', 'Sal', 'Tor',
  'Ul', 'Val', 'Wes', 'Yar', 'Zel', 'Bren', 'Cor', 'Dal', 'Ems', 'Fal', 'Gil', 'Hen', 'Ing', 'Kar', 'Lan', 'Mor', 'Nes', 'Orr', 'Pra', 'Sten'];
const CODAS = ['son', 'ley', 'ford', 'wick', 'man', 'berg', 'ton', 'ez', 'ova', 'enko', 'ski', 'er', 'ham', 'dale', 'croft', 'stein', 'well', 'by',
  'mont', 'ani', 'oux', 'ard', 'ling', 'sen', 'quist', 'ich', 'ello', 'ida', 'ami', 'ust', 'orn', 'ery', 'iel', 'ash', 'ond', 'ine', 'ays', 'ule', 'ock', 'ith',
  'aro', 'eda', 'ilo', 'una', 'yre', 'ais', 'ouf', 'eck', 'iss', 'olm'];
/** 2 000 distinct family names (each a prefix of no other), so a family search matches one name. */
export const FAMILIES: readonly string[] = ONSETS.flatMap((o) => CODAS.map((c) => `${o}${c}`));
const GIVEN_F = ['Anna', 'Maria', 'Sofia', 'Emma', 'Olga', 'Lucia', 'Nora', 'Ines', 'Mila', 'Ruth', 'Hana', 'Zoe'];
const GIVEN_M = ['John', 'Pavel', 'Luca', 'Omar', 'Ivan', 'Noah', 'Karl', 'Tomas', 'Ali', 'Marco', 'Jan', 'Leo'];
const CITIES = ['Springfield', 'Riverton', 'Lakeside', 'Hillview', 'Fairport', 'Oakdale', 'Brookfield', 'Milltown'];
const STREETS = ['Main St', 'Oak Ave', 'Elm St', 'Park Rd', 'Mill Ln', 'River Rd', 'Church St', 'High St'];
const MEDS: ReadonlyArray<[string, string]> = [
  ['197361', 'Amlodipine 5 MG Oral Tablet'], ['314076', 'Lisinopril 10 MG Oral Tablet'], ['860975', 'Metformin 500 MG Oral Tablet'],
  ['617312', 'Atorvastatin 10 MG Oral Tablet'], ['198211', 'Simvastatin 40 MG Oral Tablet'], ['310798', 'Hydrochlorothiazide 25 MG Oral Tablet'],
];
const SERVICES = ['General Practice', 'Dental', 'Physiotherapy', 'Vaccination', 'Follow-up'];

const DAY = 86_400_000;

/** An ISO instant to the second, as clients usually send one. */
const instant = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** A Patient as an EHR would post it (no id, no meta). `n` makes identifiers unique. */
export function patientBody(r: () => number, n: number): FhirResource {
  const female = r() < 0.5;
  const family = pick(r, FAMILIES);
  const given = [pick(r, female ? GIVEN_F : GIVEN_M), ...(r() < 0.3 ? [pick(r, female ? GIVEN_F : GIVEN_M)] : [])];
  const born = Date.UTC(1930, 0, 1) + Math.floor(r() * 90 * 365) * DAY;
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: `MRN${pad(n, 9)}` }],
    active: true,
    name: [{ use: 'official', family, given }],
    telecom: [
      { system: 'phone', value: `+1-555-${pad(Math.floor(r() * 10_000), 4)}`, use: 'mobile' },
      { system: 'email', value: `p${n}@mail.example` },
    ],
    gender: female ? 'female' : 'male',
    birthDate: new Date(born).toISOString().slice(0, 10),
    address: [{ use: 'home', line: [`${1 + Math.floor(r() * 200)} ${pick(r, STREETS)}`], city: pick(r, CITIES), postalCode: pad(Math.floor(r() * 100_000), 5), country: 'US' }],
  };
}

/** An Appointment of `patientId`, within a year either side of `now`. */
export function appointmentBody(r: () => number, patientId: string, now: number): FhirResource {
  const start = now - 365 * DAY + Math.floor(r() * 730) * DAY + (8 + Math.floor(r() * 9)) * 3_600_000;
  const past = start < now;
  return {
    resourceType: 'Appointment',
    status: past ? (r() < 0.9 ? 'fulfilled' : 'noshow') : 'booked',
    serviceType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: String(1 + Math.floor(r() * 500)) }], text: pick(r, SERVICES) }],
    start: instant(start),
    end: instant(start + 30 * 60_000),
    participant: [
      { actor: { reference: `Patient/${patientId}` }, status: 'accepted' },
      { actor: { reference: `Practitioner/pr-${1 + Math.floor(r() * 40)}`, display: 'Dr. Staff' }, status: 'accepted' },
    ],
  };
}

/** A MedicationRequest for `patientId`, authored in the last two years. */
export function medicationRequestBody(r: () => number, patientId: string, now: number): FhirResource {
  const [code, display] = pick(r, MEDS);
  const authored = now - Math.floor(r() * 730) * DAY;
  return {
    resourceType: 'MedicationRequest',
    status: r() < 0.7 ? 'active' : 'completed',
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code, display }] },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: new Date(authored).toISOString().slice(0, 10),
    requester: { reference: `Practitioner/pr-${1 + Math.floor(r() * 40)}` },
    dosageInstruction: [{ text: 'One tablet daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
  };
}
