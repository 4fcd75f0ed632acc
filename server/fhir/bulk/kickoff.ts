import { randomUUID } from 'node:crypto';
import type { AccessContext } from '../../auth/access-context';
import { forbidden, OperationOutcomeError, serviceUnavailable } from '../../http/errors';
import { audited } from '../../pipeline/audited';
import { callerFacts, compartmentFor, type FhirResult } from '../interaction';
import type { FhirRequest } from '../request';
import type { ResourceDefinition } from '../resources/types';
import { type ExportJob, insertJob, principalOf } from './jobs';
import { exportRefusal, requireExport } from './may-export';
import { type ExportRequest, parseExportRequest, PATIENT_TYPES, SYSTEM_TYPES } from './params';
import type { BulkDeps, ExportRunner } from './runner';

/** The compartment every step of a caller's exports runs in: set when only patient/ scopes grant them. */
export function exportCompartment(access: AccessContext): string | undefined {
  return compartmentFor(access, SYSTEM_TYPES.map((d) => ({ type: d.type, interaction: 'search' as const })));
}

/** The kick-off URL as the manifest's `request` repeats it. */
function requestUrl(deps: BulkDeps, level: ExportRequest['level'], req: FhirRequest): string {
  const qs = req.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${deps.cfg.fhirBaseUrl}/${level === 'patient' ? 'Patient/' : ''}$export${qs ? `?${qs}` : ''}`;
}

export const statusUrl = (deps: BulkDeps, jobId: string) => `${deps.cfg.fhirBaseUrl}/$export-status/${jobId}`;

/**
 * `GET [base]/$export` and `GET [base]/Patient/$export`: checks the request and the caller's right to
 * every type it names (a named type the role or scopes do not grant is a 403; unnamed, it is left
 * out), stores the job and starts it. One running export per user: a second kick-off gets 429.
 */
export async function kickOff(deps: BulkDeps, runner: ExportRunner, access: AccessContext, req: FhirRequest, level: ExportRequest['level']): Promise<FhirResult> {
  const compartment = exportCompartment(access);
  const request = requestUrl(deps, level, req);
  const facts = { ...callerFacts(access, 'export', 'E'), query: request, patientIds: compartment ? [compartment] : undefined };
  const job = await audited(deps.db, access, facts, { compartmentPatientId: compartment }, async (tx) => {
    const parsed = parseExportRequest(req, level);
    if (!deps.files) throw serviceUnavailable('Export storage is unavailable: retry later');
    let types: ResourceDefinition[];
    if (parsed.named) {
      for (const d of parsed.named) requireExport(access, tx.membership, d, compartment);
      types = parsed.named;
    } else {
      types = (level === 'patient' ? PATIENT_TYPES : SYSTEM_TYPES).filter((d) => !exportRefusal(access, tx.membership, d, compartment));
      if (!types.length) throw forbidden('Access denied: this token may export no resource type');
    }
    const row: Omit<ExportJob, 'status' | 'output' | 'error' | 'progress' | 'heartbeatAt' | 'finishedAt'> = {
      id: randomUUID(), clinicId: access.clinicId, ownerId: access.userId, level, request, types: types.map((d) => d.type),
      since: parsed.since ?? null, transactionTime: new Date(), compartmentPatientId: compartment ?? null, principal: principalOf(access),
    };
    if (!await insertJob(tx.trx, row)) {
      throw new OperationOutcomeError(429, { severity: 'error', code: 'throttled', diagnostics: 'An export of yours is still running: wait for it to finish or cancel it (DELETE its status URL)' }, { 'Retry-After': '10' });
    }
    tx.audit({ ...facts, outcomeDesc: `export of ${row.types.join(', ')} started` });
    return { ...row, status: 'running', output: [], error: [], progress: '', heartbeatAt: new Date(), finishedAt: null } satisfies ExportJob;
  });
  runner.start(job);
  return { status: 202, headers: { 'Content-Location': statusUrl(deps, job.id) } };
}
