import type { Parameters, ParametersParameter } from 'fhir/r4';
import type { AccessContext } from '../../auth/access-context';
import type { FhirDeps, FhirResult } from '../interaction';
import { type FhirRequest, queryValue } from '../request';
import { type AccessReportEntry, readAccessReport } from './read';

function rowParameter(e: AccessReportEntry): ParametersParameter {
  return {
    name: 'row',
    part: [
      { name: 'day', valueDate: e.day },
      { name: 'accessor', valueString: e.accessor },
      ...(e.role ? [{ name: 'role', valueString: e.role }] : []),
      { name: 'kind', valueCode: e.kind },
      { name: 'data', valueString: e.data },
      { name: 'purpose', valueString: e.purpose },
      { name: 'count', valueInteger: e.count },
      { name: 'first', valueInstant: e.first },
      { name: 'last', valueInstant: e.last },
      ...(e.grant ? [{ name: 'grant', valueString: e.grant }] : []),
      ...(e.category ? [{ name: 'category', valueCode: e.category }] : []),
      ...(e.reason ? [{ name: 'reason', valueString: e.reason }] : []),
      ...(e.revoke ? [{ name: 'revoke', valueString: e.revoke }] : []),
    ],
  };
}

/**
 * `GET [base]/Patient/{id}/$access-report?from=&to=`: who accessed the patient's record, one row per
 * day, accessor, kind and purpose, as a Parameters (the report itself is read in read.ts).
 */
export async function accessReport(deps: FhirDeps, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const report = await readAccessReport(deps.db, access, {
    patientId: req.params.id ?? '', from: queryValue(req, 'from'), to: queryValue(req, 'to'),
    query: new URLSearchParams(req.query.map(([k, v]): [string, string] => [k, v])).toString(),
  });
  const body: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'patient', valueReference: { reference: `Patient/${report.patientId}` } },
      { name: 'from', valueDate: report.from },
      { name: 'to', valueDate: report.to },
      ...report.entries.map(rowParameter),
    ],
  };
  return { status: 200, body: JSON.stringify(body) };
}
