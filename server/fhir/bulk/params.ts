import { badRequest, notSupported } from '../../http/errors';
import type { FhirRequest } from '../request';
import { RESOURCE_DEFINITIONS } from '../resources';
import type { ResourceDefinition } from '../resources/types';

/** What a kick-off asks for, checked: every mistake is a 400 before anything is stored. */
export interface ExportRequest {
  level: 'system' | 'patient';
  /** Types named in `_type`, or undefined: every exportable type the caller may read. */
  named?: ResourceDefinition[];
  since?: Date;
}

/** The NDJSON names Bulk Data clients send for the one format we produce. */
const NDJSON = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const KNOWN = new Set(['_type', '_since', '_outputFormat']);
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Types a system-level export serves (AuditEvent is searched, not exported: it is the trail of the export itself). */
export const SYSTEM_TYPES: readonly ResourceDefinition[] = RESOURCE_DEFINITIONS.filter((d) => !d.serverWritten);
/** Types of a patient-level export: the patient compartment. */
export const PATIENT_TYPES: readonly ResourceDefinition[] = SYSTEM_TYPES.filter((d) => d.compartment === 'self' || 'paths' in d.compartment);

/** An instant such as 2024-01-01T00:00:00Z, or a 400 naming the parameter. */
export function instantParam(name: string, value: string): Date {
  const d = INSTANT.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw badRequest(`${name} must be an instant such as 2024-01-01T00:00:00Z`, [name]);
  return d;
}

/** `_type` values (comma-separated, repeatable) as definitions out of `allowed`; an unknown one is a 400. */
export function typesParam(req: FhirRequest, allowed: readonly ResourceDefinition[], where: string): ResourceDefinition[] | undefined {
  const values = req.query.filter(([k]) => k === '_type').flatMap(([, v]) => v.split(','));
  if (!values.length) return undefined;
  const out: ResourceDefinition[] = [];
  for (const raw of values) {
    const name = raw.trim();
    const def = allowed.find((d) => d.type === name);
    if (!def) throw badRequest(`_type ${name.slice(0, 64) || '(empty)'} is not a type ${where}`, ['_type']);
    if (!out.includes(def)) out.push(def);
  }
  return out;
}

export function parseExportRequest(req: FhirRequest, level: ExportRequest['level']): ExportRequest {
  if (!/(^|[\s,;])respond-async($|[\s,;])/.test(req.headers.prefer ?? '')) {
    throw badRequest('A Bulk Data kick-off needs the header Prefer: respond-async');
  }
  const unknown = req.query.find(([k]) => !KNOWN.has(k));
  if (unknown) throw notSupported(`The export parameter ${unknown[0].slice(0, 64)} is not supported (supported: ${[...KNOWN].join(', ')})`);
  const format = req.query.find(([k]) => k === '_outputFormat')?.[1];
  if (format !== undefined && !NDJSON.has(format)) {
    throw badRequest(`_outputFormat ${format.slice(0, 64)} is not produced here: only application/fhir+ndjson`, ['_outputFormat']);
  }
  const since = req.query.find(([k]) => k === '_since')?.[1];
  const allowed = level === 'patient' ? PATIENT_TYPES : SYSTEM_TYPES;
  return {
    level,
    named: typesParam(req, allowed, level === 'patient' ? 'of the patient compartment this server exports' : 'this server exports'),
    since: since === undefined ? undefined : instantParam('_since', since),
  };
}
