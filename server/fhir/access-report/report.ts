import type { Parameters, ParametersParameter } from 'fhir/r4';
import type { AccessContext } from '../../auth/access-context';
import { badRequest, notFound } from '../../http/errors';
import { isUuid } from '../../http/ids';
import { audited } from '../../pipeline/audited';
import { callerFacts, compartmentFor, type FhirDeps, type FhirResult } from '../interaction';
import { type FhirRequest, queryValue } from '../request';
import { accessReportRows, type AccessReportRow } from './rows';

/** The plain words a patient reads for each kind of record. */
const DATA_WORDS: Readonly<Record<string, string>> = {
  Patient: 'demographics', Appointment: 'appointments', MedicationRequest: 'medications',
  DocumentReference: 'documents', Binary: 'documents', AuditEvent: 'access history', Practitioner: 'staff directory',
};

const DAY_MS = 86_400_000;
const MAX_DAYS = 366;
const DEFAULT_DAYS = 30;

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** A calendar date `YYYY-MM-DD` as UTC midnight (ms), or a 400 naming the parameter. */
function parseDay(name: string, value: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms) || isoDay(ms) !== value) throw badRequest(`${name} must be a date YYYY-MM-DD`, [name]);
  return ms;
}

/** The report's days, both inclusive: `to` defaults to today (UTC), `from` to 30 days before it. */
export function reportWindow(req: FhirRequest): { from: string; to: string; toExclusive: string } {
  const rawFrom = queryValue(req, 'from');
  const rawTo = queryValue(req, 'to');
  const to = rawTo === undefined ? parseDay('to', isoDay(Date.now())) : parseDay('to', rawTo);
  const from = rawFrom === undefined ? to - (DEFAULT_DAYS - 1) * DAY_MS : parseDay('from', rawFrom);
  if (from > to) throw badRequest('from must not be after to', ['from']);
  if ((to - from) / DAY_MS + 1 > MAX_DAYS) throw badRequest(`the report covers at most ${MAX_DAYS} days`, ['from']);
  return { from: isoDay(from), to: isoDay(to), toExclusive: new Date(to + DAY_MS).toISOString() };
}

function rowParameter(r: AccessReportRow, patientId: string): ParametersParameter {
  const words = [...new Set(r.types.map((t) => DATA_WORDS[t] ?? t.toLowerCase()))].sort();
  return {
    name: 'row',
    part: [
      { name: 'day', valueDate: r.day },
      { name: 'accessor', valueString: r.accessorName ?? 'unknown user' },
      ...(r.role ? [{ name: 'role', valueString: r.role }] : []),
      { name: 'kind', valueCode: r.kind },
      { name: 'data', valueString: words.join(', ') },
      { name: 'purpose', valueString: r.purpose },
      { name: 'count', valueInteger: r.count },
      { name: 'first', valueInstant: r.first },
      { name: 'last', valueInstant: r.last },
      ...(r.grantId ? [{ name: 'grant', valueString: r.grantId }] : []),
      ...(r.grantCategory ? [{ name: 'category', valueCode: r.grantCategory }] : []),
      ...(r.grantReason ? [{ name: 'reason', valueString: r.grantReason }] : []),
      ...(r.grantActive ? [{ name: 'revoke', valueString: `Still open: the patient (or compliance) ends it with POST [base]/Patient/${patientId}/$break-glass-revoke, Parameters grant=${r.grantId}` }] : []),
    ],
  };
}

/**
 * `GET [base]/Patient/{id}/$access-report?from=&to=`: who accessed the patient's record, one row per
 * day, accessor, kind and purpose. Allowed to a role holding compliance.auditEvents.search; a
 * patient/ token only for its own patient (another patient is 404, as RLS makes it absent). The
 * reading is audited like any access, and so are its refusals.
 */
export async function accessReport(deps: FhirDeps, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const id = req.params.id ?? '';
  const facts = {
    ...callerFacts(access, 'operation', 'E'), resourceType: 'Patient', resourceId: id.slice(0, 64),
    query: new URLSearchParams(req.query.map(([k, v]): [string, string] => [k, v])).toString(), detail: { operation: 'access-report' },
  };
  const compartmentPatientId = compartmentFor(access, [{ type: 'AuditEvent', interaction: 'search' }]);
  return audited(deps.db, access, facts, { compartmentPatientId }, async (tx) => {
    const decision = tx.require('AuditEvent', 'search');
    if (!isUuid(id) || (decision.compartmentPatientId && decision.compartmentPatientId !== id)) throw notFound(`Patient/${id.slice(0, 64)} is not known`);
    const window = reportWindow(req);
    const known = await tx.trx('patient').where({ id }).first('id');
    if (!known) throw notFound(`Patient/${id} is not known`);
    const rows = await accessReportRows(tx.trx, { clinicId: access.clinicId, patientId: id, from: `${window.from}T00:00:00Z`, toExclusive: window.toExclusive });
    tx.audit(facts);
    const body: Parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueReference: { reference: `Patient/${id}` } },
        { name: 'from', valueDate: window.from },
        { name: 'to', valueDate: window.to },
        ...rows.map((r) => rowParameter(r, id)),
      ],
    };
    return { status: 200, body: JSON.stringify(body) };
  });
}
