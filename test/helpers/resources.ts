import { auditEvents } from './audit';
import { expect } from 'chai';
import type supertest from 'supertest';
import { admin, api, FHIR, patientBody } from './server';

type Auth = Record<string, string>;
type Body = Record<string, unknown>;

/** A PDF's first bytes, so an inline attachment is what it claims to be. */
export const PDF_BASE64 = Buffer.from('%PDF-1.4\n%\u00e2\u00e3\n').toString('base64');

export function appointmentBody(patientId: string, extra: Body = {}): Body {
  return {
    resourceType: 'Appointment',
    status: 'booked',
    start: '2026-03-10T09:00:00Z',
    end: '2026-03-10T09:30:00Z',
    participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
    ...extra,
  };
}

export function medicationRequestBody(patientId: string, extra: Body = {}): Body {
  return {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }] },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: '2026-01-15',
    ...extra,
  };
}

export function documentReferenceBody(patientId: string, extra: Body = {}): Body {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    subject: { reference: `Patient/${patientId}` },
    type: { coding: [{ system: 'http://loinc.org', code: '34108-1' }] },
    content: [{ attachment: { contentType: 'application/pdf', data: PDF_BASE64 } }],
    ...extra,
  };
}

/** The three patient-compartment types: a body factory, and a status an update may change to. */
export const COMPARTMENT_TYPES = [
  { type: 'Appointment', body: appointmentBody, otherStatus: 'cancelled' },
  { type: 'MedicationRequest', body: medicationRequestBody, otherStatus: 'on-hold' },
  { type: 'DocumentReference', body: documentReferenceBody, otherStatus: 'superseded' },
] as const;

export async function post(auth: Auth, type: string, body: object): Promise<supertest.Response> {
  return (await api()).post(`/fhir/${type}`).set(auth).set('Content-Type', FHIR).send(JSON.stringify(body));
}

export async function put(auth: Auth, type: string, id: string, body: object, ifMatch?: string): Promise<supertest.Response> {
  const req = (await api()).put(`/fhir/${type}/${id}`).set(auth).set('Content-Type', FHIR);
  if (ifMatch) req.set('If-Match', ifMatch);
  return req.send(JSON.stringify(body));
}

/** Creates a resource and returns its id, failing the test with the server's answer otherwise. */
export async function created(auth: Auth, type: string, body: object): Promise<string> {
  const res = await post(auth, type, body);
  expect(res.status, res.text.slice(0, 500)).to.equal(201);
  return res.body.id as string;
}

export async function newPatient(auth: Auth, family = 'Doe'): Promise<string> {
  return created(auth, 'Patient', patientBody(family));
}

/** Ids of the matches of a search, sorted. */
export async function searchIds(auth: Auth, type: string, query: string): Promise<string[]> {
  const res = await (await api()).get(`/fhir/${type}?${query}`).set(auth);
  expect(res.status, res.text.slice(0, 500)).to.equal(200);
  const entries = (res.body.entry ?? []) as Array<{ search?: { mode: string }; resource: { id: string } }>;
  return entries.filter((e) => e.search?.mode === 'match').map((e) => e.resource.id).sort();
}

export interface Refusal { subtype: string; entity: string; outcomeDesc: string }

/** Refusals (outcome 4) recorded for a user, read from the audit table as the migration account. */
export async function refusalsOf(userId: string): Promise<Refusal[]> {
  const rows = await auditEvents((q) => q.where({ outcome: '4', user_id: userId }));
  return rows.map((r) => ({
    subtype: r.subtype?.[0].code ?? '',
    entity: (r.entity ?? []).map((e) => e.what?.reference ?? e.what?.display ?? '').join(' '),
    outcomeDesc: r.outcomeDesc ?? '',
  }));
}
