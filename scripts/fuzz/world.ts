import type { Knex } from 'knex';
import { createClinic, createUser } from '../../server/admin/tenancy';
import type { TokenRequest } from '../../server/auth/tokens';
import { FHIR_JSON, type FuzzRequest, send } from './client';
import { type ClinicName, Registry } from './registry';

/**
 * The fuzz's world: two clinics with the same-looking data (same names, same identifiers), staff of
 * every default role, patient/ tokens and a forged token, all made through the real API.
 */

export interface FuzzDeps {
  /** Origin the server listens on, e.g. `http://127.0.0.1:4100`. */
  baseUrl: string;
  /** The migration account (creates clinics and users as the admin CLI does). */
  admin: Knex;
  mint(req: TokenRequest): Promise<string>;
}

export interface Caller {
  /** e.g. `A/doctor`, `B/patient:2`, `A/forged-as-B`. */
  name: string;
  clinic: ClinicName;
  clinicId: string;
  userId: string;
  token: string;
  /** The token's patient, for a patient/ token. */
  patient?: string;
  /** True when the token names a clinic the user is not a member of. */
  forged?: boolean;
}

export interface World {
  clinicIds: Record<ClinicName, string>;
  callers: Caller[];
  registry: Registry;
}

export const ROLES = ['clinic-admin', 'doctor', 'nurse', 'front-desk', 'billing', 'pharmacist', 'compliance-officer'] as const;
export const FAMILIES = ['Smith', 'Jones', 'Garcia', 'Nguyen', 'Okafor'];
export const IDENTIFIER_SYSTEM = 'urn:fuzz:mrn';
const PATIENTS_PER_CLINIC = FAMILIES.length;
const PATIENT_TOKENS_PER_CLINIC = 3;
export const PDF = Buffer.from('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

type Json = Record<string, unknown>;

async function must(deps: FuzzDeps, token: string, req: FuzzRequest): Promise<Json> {
  const res = await send(deps.baseUrl, req, token);
  if (res.status !== 201 && res.status !== 200) throw new Error(`fuzz setup: ${req.method} ${req.path} answered ${res.status}: ${res.text.slice(0, 300)}`);
  return JSON.parse(res.text) as Json;
}

const create = (type: string, body: Json): FuzzRequest =>
  ({ method: 'POST', path: `/fhir/${type}`, headers: { 'Content-Type': FHIR_JSON }, body: JSON.stringify(body), label: 'setup' });

export function patientBody(n: number, extra: Json = {}): Json {
  return {
    resourceType: 'Patient', active: true, gender: n % 2 ? 'male' : 'female', birthDate: `19${70 + n}-0${1 + (n % 9)}-1${n % 9}`,
    identifier: [{ system: IDENTIFIER_SYSTEM, value: `p-${n}` }],
    name: [{ family: FAMILIES[n % FAMILIES.length], given: ['Sam'] }],
    telecom: [{ system: 'phone', value: `555-010${n}` }, { system: 'email', value: `p${n}@example.org` }],
    address: [{ city: n % 2 ? 'Springfield' : 'Shelbyville', postalCode: `0${n}100` }],
    ...extra,
  };
}

export function appointmentBody(patient: string, practitioner: string | undefined, n: number): Json {
  const actors = [{ actor: { reference: `Patient/${patient}` }, status: 'accepted' }];
  if (practitioner) actors.push({ actor: { reference: `Practitioner/${practitioner}` }, status: 'accepted' });
  return {
    resourceType: 'Appointment', status: n % 3 ? 'booked' : 'proposed', identifier: [{ system: IDENTIFIER_SYSTEM, value: `a-${n}` }],
    start: `2026-0${1 + (n % 9)}-10T09:00:00Z`, end: `2026-0${1 + (n % 9)}-10T09:30:00Z`, participant: actors,
  };
}

export function medicationRequestBody(patient: string, practitioner: string | undefined, n: number): Json {
  return {
    resourceType: 'MedicationRequest', status: n % 2 ? 'active' : 'on-hold', intent: 'order',
    identifier: [{ system: IDENTIFIER_SYSTEM, value: `m-${n}` }],
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: n % 2 ? '197361' : '310965' }] },
    subject: { reference: `Patient/${patient}` }, authoredOn: `2026-01-1${n % 9}`,
    ...(practitioner ? { requester: { reference: `Practitioner/${practitioner}` } } : {}),
  };
}

/** A DocumentReference whose content is a stored Binary (`Binary/{id}`) or inline PDF bytes. */
export function documentBody(patient: string, attachment: { binary?: string }, n: number): Json {
  const att = attachment.binary
    ? { contentType: 'application/pdf', url: `Binary/${attachment.binary}`, title: `scan-${n}.pdf` }
    : { contentType: 'application/pdf', data: PDF.toString('base64'), title: `note-${n}.pdf` };
  return {
    resourceType: 'DocumentReference', status: 'current', identifier: [{ system: IDENTIFIER_SYSTEM, value: `d-${n}` }],
    subject: { reference: `Patient/${patient}` }, date: `2026-02-0${1 + (n % 9)}T10:00:00Z`,
    type: { coding: [{ system: 'http://loinc.org', code: n % 2 ? '34108-1' : '11502-2' }] }, content: [{ attachment: att }],
  };
}

export function practitionerBody(n: number): Json {
  return { resourceType: 'Practitioner', active: true, identifier: [{ system: IDENTIFIER_SYSTEM, value: `dr-${n}` }], name: [{ family: `Doc${n}`, given: ['Pat'] }] };
}

export const uploadBinary = (patient: string): FuzzRequest => ({
  method: 'POST', path: '/fhir/Binary', headers: { 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${patient}` },
  body: PDF.toString('latin1'), label: 'binary-upload',
});

async function user(deps: FuzzDeps, clinicId: string, role: string, tag: string): Promise<string> {
  return (await createUser(deps.admin, { clinicId, role, email: `${role}.${tag}.${clinicId.slice(0, 8)}@fuzz.example` })).id;
}

async function clinicData(deps: FuzzDeps, clinic: ClinicName, clinicId: string, token: string, registry: Registry): Promise<string[]> {
  const post = async (type: string, body: Json) => { const r = await must(deps, token, create(type, body)); registry.addResource(r, clinic); return r.id as string; };
  const practitioners: string[] = [];
  for (let n = 0; n < 3; n++) practitioners.push(await post('Practitioner', practitionerBody(n)));
  const patients: string[] = [];
  for (let n = 0; n < PATIENTS_PER_CLINIC; n++) {
    const p = await post('Patient', patientBody(n, { generalPractitioner: [{ reference: `Practitioner/${practitioners[n % 3]}` }] }));
    patients.push(p);
    for (let k = 0; k < 2; k++) {
      await post('Appointment', appointmentBody(p, practitioners[(n + k) % 3], n * 2 + k));
      await post('MedicationRequest', medicationRequestBody(p, practitioners[(n + k) % 3], n * 2 + k));
    }
    const binary = (await must(deps, token, uploadBinary(p))).id as string;
    registry.add(binary, clinic, 'Binary', [p]);
    await post('DocumentReference', documentBody(p, { binary }, n * 2));
    await post('DocumentReference', documentBody(p, {}, n * 2 + 1));
  }
  return patients;
}

/** Creates both clinics, their staff, tokens and data. */
export async function buildWorld(deps: FuzzDeps, tag: string): Promise<World> {
  const registry = new Registry();
  const clinicIds = {} as Record<ClinicName, string>;
  const callers: Caller[] = [];
  const users: Record<string, string> = {};
  for (const clinic of ['A', 'B'] as const) {
    const clinicId = (await createClinic(deps.admin, `Fuzz ${clinic} ${tag}`)).id;
    clinicIds[clinic] = clinicId;
    registry.add(clinicId, clinic, 'Clinic');
    for (const role of ROLES) {
      const userId = await user(deps, clinicId, role, tag);
      users[`${clinic}/${role}`] = userId;
      registry.add(userId, clinic, 'User');
      const token = await deps.mint({ clinicId, userId, scope: 'user/*.cruds' });
      callers.push({ name: `${clinic}/${role}`, clinic, clinicId, userId, token });
    }
    // A read-only grant narrows a doctor's role: writes must be refused, reads still isolated.
    const readOnly = await deps.mint({ clinicId, userId: users[`${clinic}/doctor`], scope: 'user/*.rs' });
    callers.push({ name: `${clinic}/doctor(user/*.rs)`, clinic, clinicId, userId: users[`${clinic}/doctor`], token: readOnly });
  }
  for (const clinic of ['A', 'B'] as const) {
    const admin = callers.find((c) => c.name === `${clinic}/clinic-admin`)!;
    const patients = await clinicData(deps, clinic, clinicIds[clinic], admin.token, registry);
    for (let i = 0; i < PATIENT_TOKENS_PER_CLINIC; i++) {
      const userId = await user(deps, clinicIds[clinic], 'doctor', `${tag}-pt${i}`);
      registry.add(userId, clinic, 'User');
      const scope = i === 2 ? 'patient/*.rs' : 'patient/*.cruds';
      const token = await deps.mint({ clinicId: clinicIds[clinic], userId, scope, patientId: patients[i], fhirUser: `Patient/${patients[i]}` });
      callers.push({ name: `${clinic}/patient:${i}(${scope})`, clinic, clinicId: clinicIds[clinic], userId, token, patient: patients[i] });
    }
  }
  // A member of A presenting a token that names clinic B (and the reverse): must open nothing.
  for (const [clinic, other] of [['A', 'B'], ['B', 'A']] as const) {
    const userId = users[`${clinic}/doctor`];
    const token = await deps.mint({ clinicId: clinicIds[other], userId, scope: 'user/*.cruds' });
    callers.push({ name: `${clinic}/doctor-forged-as-${other}`, clinic, clinicId: clinicIds[clinic], userId, token, forged: true });
  }
  return { clinicIds, callers, registry };
}
