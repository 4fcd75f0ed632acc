import type supertest from 'supertest';
import { admin, api, FHIR } from '../helpers/server';

type Auth = Record<string, string>;
type Value = string | number | { reference: string };

/** A Parameters body from name/value pairs (strings as valueString, numbers as valueInteger, references as valueReference). */
export function parameters(values: Record<string, Value>): object {
  return {
    resourceType: 'Parameters',
    parameter: Object.entries(values).map(([name, v]) => (typeof v === 'number' ? { name, valueInteger: v }
      : typeof v === 'string' ? { name, valueString: v } : { name, valueReference: v })),
  };
}

/** POSTs a FHIR operation (`Patient/{id}/$name` or `$name`) with Parameters. */
export async function operation(auth: Auth, path: string, values: Record<string, Value>): Promise<supertest.Response> {
  return (await api()).post(`/fhir/${path}`).set(auth).set('Content-Type', FHIR).send(JSON.stringify(parameters(values)));
}

/** The value of a named output parameter. */
export function out(res: supertest.Response, name: string): unknown {
  const p = (res.body.parameter ?? []).find((x: { name: string }) => x.name === name) as Record<string, unknown> | undefined;
  return p && Object.entries(p).find(([k]) => k.startsWith('value'))?.[1];
}

export const REASON = 'Unconscious on arrival, allergy history needed';

export async function breakGlass(auth: Auth, patientId: string, extra: Record<string, Value> = {}): Promise<supertest.Response> {
  return operation(auth, `Patient/${patientId}/$break-glass`, { category: 'emergency-treatment', reason: REASON, ...extra });
}

/** Raw audit rows of a user, as the migration account reads them. */
export async function auditRows(where: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
  return (await admin())('audit_event').where(where).orderBy('last_updated').select('*');
}

/** The events of a grant's life, oldest first. */
export async function grantEvents(where: Record<string, unknown>): Promise<string[]> {
  return ((await (await admin())('break_glass_event').where(where).orderBy('at').orderBy('kind').select('kind')) as Array<{ kind: string }>).map((e) => e.kind);
}
