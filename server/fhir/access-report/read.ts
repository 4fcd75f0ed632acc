import type { Knex } from 'knex';
import type { AuditFacts } from '../../audit/record';
import type { AccessContext } from '../../auth/access-context';
import { badRequest, notFound } from '../../http/errors';
import { isUuid } from '../../http/ids';
import { audited } from '../../pipeline/audited';
import { callerFacts, compartmentFor } from '../interaction';
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
export function reportWindow(rawFrom: string | undefined, rawTo: string | undefined): { from: string; to: string; toExclusive: string } {
  const to = rawTo === undefined ? parseDay('to', isoDay(Date.now())) : parseDay('to', rawTo);
  const from = rawFrom === undefined ? to - (DEFAULT_DAYS - 1) * DAY_MS : parseDay('from', rawFrom);
  if (from > to) throw badRequest('from must not be after to', ['from']);
  if ((to - from) / DAY_MS + 1 > MAX_DAYS) throw badRequest(`the report covers at most ${MAX_DAYS} days`, ['from']);
  return { from: isoDay(from), to: isoDay(to), toExclusive: new Date(to + DAY_MS).toISOString() };
}

/** One line of the report as the patient reads it (the API and the console both show exactly this). */
export interface AccessReportEntry {
  day: string;
  accessor: string;
  role?: string;
  kind: AccessReportRow['kind'];
  /** The kinds of record touched, in plain words. */
  data: string;
  purpose: AccessReportRow['purpose'];
  count: number;
  first: string;
  last: string;
  grant?: string;
  category?: string;
  reason?: string;
  /** Only while the break-glass grant is open: how it is ended. */
  revoke?: string;
}

export interface AccessReport { patientId: string; clinicName: string; from: string; to: string; entries: AccessReportEntry[] }

function entryOf(r: AccessReportRow, patientId: string): AccessReportEntry {
  return {
    day: r.day,
    accessor: r.accessorName ?? 'unknown user',
    ...(r.role ? { role: r.role } : {}),
    kind: r.kind,
    data: [...new Set(r.types.map((t) => DATA_WORDS[t] ?? t.toLowerCase()))].sort().join(', '),
    purpose: r.purpose,
    count: r.count,
    first: r.first,
    last: r.last,
    ...(r.grantId ? { grant: r.grantId } : {}),
    ...(r.grantCategory ? { category: r.grantCategory } : {}),
    ...(r.grantReason ? { reason: r.grantReason } : {}),
    ...(r.grantActive ? { revoke: `Still open: the patient (or compliance) ends it with POST [base]/Patient/${patientId}/$break-glass-revoke, Parameters grant=${r.grantId}` } : {}),
  };
}

/**
 * The patient's access report, read the one way it is read (the FHIR operation and the console's
 * Patient report both call this): in the caller's audited RLS transaction, allowed to a role
 * holding compliance.auditEvents.search or to a patient/ token for its own patient (another patient
 * is 404, as RLS makes it absent), and recorded as an `operation` AuditEvent about the patient;
 * refusals (bad dates, unknown patient, no permission) are recorded the same way.
 */
export async function readAccessReport(db: Knex, access: AccessContext, q: { patientId: string; from?: string; to?: string; query: string }): Promise<AccessReport> {
  const id = q.patientId;
  const facts: AuditFacts = {
    ...callerFacts(access, 'operation', 'E'), resourceType: 'Patient', resourceId: id.slice(0, 64), query: q.query.slice(0, 2000), detail: { operation: 'access-report' },
  };
  const compartmentPatientId = compartmentFor(access, [{ type: 'AuditEvent', interaction: 'search' }]);
  return audited(db, access, facts, { compartmentPatientId }, async (tx) => {
    const decision = tx.require('AuditEvent', 'search');
    if (!isUuid(id) || (decision.compartmentPatientId && decision.compartmentPatientId !== id)) throw notFound(`Patient/${id.slice(0, 64)} is not known`);
    const window = reportWindow(q.from, q.to);
    const known = await tx.trx('patient').where({ id }).first('id');
    if (!known) throw notFound(`Patient/${id} is not known`);
    const rows = await accessReportRows(tx.trx, { clinicId: access.clinicId, patientId: id, from: `${window.from}T00:00:00Z`, toExclusive: window.toExclusive });
    const clinic = await tx.trx('clinic').where({ id: access.clinicId }).first('name') as { name: string } | undefined;
    tx.audit(facts);
    return { patientId: id, clinicName: clinic?.name ?? '', from: window.from, to: window.to, entries: rows.map((r) => entryOf(r, id)) };
  });
}
