import type { FuzzRequest, FuzzResponse } from './client';
import type { ClinicName, Registry } from './registry';
import type { Caller } from './world';

/**
 * The oracle: every id in a response (body and every header) must belong to the caller's clinic,
 * and for a patient/ token to its own patient or to no patient's compartment. Ids the request named
 * are excused: a 404 may echo the id asked for, which tells the caller nothing it did not say.
 * An AuditEvent may also name ids other callers of the same clinic named in their requests (a
 * refused attempt on the other clinic's id is recorded in the caller's own trail, as it should be),
 * and a resource may hold a reference its own clinic wrote into it (Practitioner references are not
 * checked on write), but the resource an id names is never excused.
 * No answer may be a 5xx, and a signed link must point under the caller's clinic prefix.
 */

export interface Finding {
  problem: 'server-error' | 'other-clinic-id' | 'other-patient-id' | 'signed-link-outside-clinic' | 'foreign-target-answered';
  /** Where in the response: a header name, `body`, or `entry[3]`. */
  where: string;
  id?: string;
  detail: string;
  /** The text around the id, where it was found. */
  excerpt?: string;
}

function around(text: string, id: string): string {
  const i = text.toLowerCase().indexOf(id);
  return text.slice(Math.max(0, i - 300), i + 100);
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const CLINIC_PREFIX = /clinics(?:\/|%2F)([0-9a-f-]{36})/gi;
const PATIENT_PREFIX = /patients(?:\/|%2F)([0-9a-f-]{36})/gi;

export const uuidsIn = (text: string): string[] => (text.match(UUID) ?? []).map((u) => u.toLowerCase());

/** Every uuid the caller put in its request: path, query, headers and body. */
export function requestIds(req: FuzzRequest): Set<string> {
  let path = req.path;
  try { path = decodeURIComponent(req.path); } catch { /* keep it raw */ }
  return new Set([...uuidsIn(path), ...uuidsIn(Object.values(req.headers).join(' ')), ...uuidsIn(req.body ?? '')]);
}

interface Unit { where: string; text: string; audit: boolean; resourceId?: string }

type Json = Record<string, unknown>;

/** Splits a body into the parts the oracle judges apart: each Bundle entry (nested ones too) and the rest. */
function unitsOf(value: unknown, where: string): Unit[] {
  const j = value as Json;
  if (j && typeof j === 'object' && j.resourceType === 'Bundle' && Array.isArray(j.entry)) {
    const { entry, ...shell } = j;
    const units: Unit[] = [{ where, text: JSON.stringify(shell), audit: false, resourceId: String(j.id) }];
    (entry as Json[]).forEach((e, i) => {
      const res = e.resource as Json | undefined;
      if (res?.resourceType === 'Bundle') {
        const { resource, ...rest } = e;
        units.push({ where: `${where}.entry[${i}]`, text: JSON.stringify(rest), audit: false }, ...unitsOf(resource, `${where}.entry[${i}].resource`));
      } else {
        units.push({ where: `${where}.entry[${i}]`, text: JSON.stringify(e), audit: res?.resourceType === 'AuditEvent', resourceId: res?.id as string | undefined });
      }
    });
    return units;
  }
  return [{ where, text: typeof value === 'string' ? value : JSON.stringify(value), audit: j?.resourceType === 'AuditEvent', resourceId: j?.id as string | undefined }];
}

export function parseBody(text: string): unknown {
  try { return JSON.parse(text); } catch { return text; }
}

export interface OracleContext {
  caller: Caller;
  request: FuzzRequest;
  response: FuzzResponse;
  registry: Registry;
  /** Ids callers of each clinic named in requests so far (an AuditEvent of that clinic may show them). */
  mentioned: Record<ClinicName, Set<string>>;
  /** Ids callers of each clinic wrote into their own records (references the server does not check). */
  planted: Record<ClinicName, Set<string>>;
}

/** Ids a write puts into stored resources: its body, or the resources of a Bundle's POST and PUT entries. */
export function plantedIds(req: FuzzRequest): string[] {
  if (!req.body || !['POST', 'PUT', 'PATCH'].includes(req.method) || req.path.includes('_search') || req.path.startsWith('/fhir/Binary')) return [];
  if (req.path !== '/fhir') return uuidsIn(req.body);
  const bundle = parseBody(req.body) as { entry?: Array<{ resource?: unknown; request?: { method?: string } }> };
  return (bundle.entry ?? []).filter((e) => e.request?.method === 'POST' || e.request?.method === 'PUT').flatMap((e) => uuidsIn(JSON.stringify(e.resource ?? {})));
}

/** Answers that tell nothing about whether an id exists elsewhere: as for an id nobody has. */
const HIDDEN = new Set([400, 401, 403, 404, 405, 415, 422]);

/** The id a single-resource request names when it is not the caller's to see (other clinic or patient). */
function foreignTarget(ctx: OracleContext): string | undefined {
  const m = /^\/fhir\/[A-Za-z]+\/([0-9a-f-]{36})(?:\/_history(?:\/\d+)?)?(?:\?.*)?$/.exec(ctx.request.path);
  if (!m || ctx.caller.forged) return undefined;
  const owner = ctx.registry.owner(m[1]);
  if (!owner) return undefined;
  if (owner.clinic !== ctx.caller.clinic) return m[1];
  const p = ctx.caller.patient;
  if (p && m[1] !== p && (owner.kind === 'Patient' || (owner.patients.size > 0 && !owner.patients.has(p)))) return m[1];
  return undefined;
}

export interface Verdict {
  findings: Finding[];
  /** How many ids of a known owner the answer showed and the oracle judged (its evidence was not empty). */
  checked: number;
}

export function judge(ctx: OracleContext): Verdict {
  const { caller, response, registry } = ctx;
  const findings: Finding[] = [];
  let checked = 0;
  if (response.status >= 500) findings.push({ problem: 'server-error', where: 'status', detail: `status ${response.status}: ${response.text.slice(0, 300)}` });
  const asked = requestIds(ctx.request);
  const units: Unit[] = [
    ...response.headers.map(([k, v]) => ({ where: `header ${k}`, text: v, audit: false })),
    ...unitsOf(parseBody(response.text), 'body'),
  ];
  for (const unit of units) {
    for (const id of new Set(uuidsIn(unit.text))) {
      if (asked.has(id) || (unit.audit && ctx.mentioned[caller.clinic].has(id))) continue;
      // A reference the clinic itself stored is its own data; the referenced resource shown is not.
      if (id !== unit.resourceId && ctx.planted[caller.clinic].has(id)) continue;
      const owner = registry.owner(id);
      if (!owner) continue;
      checked++;
      if (owner.clinic !== caller.clinic) {
        findings.push({ problem: 'other-clinic-id', where: unit.where, id, detail: `${owner.kind} of clinic ${owner.clinic} shown to ${caller.name}`, excerpt: around(unit.text, id) });
      } else if (caller.patient && id !== caller.patient && (owner.kind === 'Patient' || (owner.patients.size > 0 && !owner.patients.has(caller.patient)))) {
        findings.push({ problem: 'other-patient-id', where: unit.where, id, detail: `${owner.kind} of patient(s) ${[...owner.patients].join(',')} shown to ${caller.name}`, excerpt: around(unit.text, id) });
      }
    }
  }
  const target = foreignTarget(ctx);
  if (target && !HIDDEN.has(response.status)) {
    findings.push({ problem: 'foreign-target-answered', where: 'status', id: target, detail: `${response.status} to ${caller.name} for an id it may not see (an existence oracle): ${response.text.slice(0, 200)}` });
  }
  const all = response.headers.map(([, v]) => v).join('\n') + '\n' + response.text;
  for (const m of all.matchAll(CLINIC_PREFIX)) {
    if (m[1].toLowerCase() !== caller.clinicId) findings.push({ problem: 'signed-link-outside-clinic', where: 'link', id: m[1], detail: `a link under clinics/${m[1]}/ given to ${caller.name}` });
  }
  if (caller.patient) {
    for (const m of all.matchAll(PATIENT_PREFIX)) {
      if (m[1].toLowerCase() !== caller.patient) findings.push({ problem: 'signed-link-outside-clinic', where: 'link', id: m[1], detail: `a link under patients/${m[1]}/ given to ${caller.name}` });
    }
  }
  return { findings, checked };
}

/** True when a refusal echoes a foreign id the caller itself asked for (counted, not a leak). */
export function echoesForeignId(ctx: OracleContext): boolean {
  if (ctx.response.status < 400) return false;
  const asked = requestIds(ctx.request);
  return uuidsIn(ctx.response.text).some((id) => asked.has(id) && ctx.registry.owner(id)?.clinic !== undefined && ctx.registry.owner(id)?.clinic !== ctx.caller.clinic);
}
