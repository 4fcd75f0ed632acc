import http from 'node:http';
import { OperationOutcomeError } from '../../http/errors';
import type { BundleEntryText } from '../bundle';
import type { FhirResult } from '../interaction';
import type { ResolvedEntry } from './entry';
import type { BundleEntryRequest } from './parse';

const statusLine = (status: number) => `${status} ${http.STATUS_CODES[status] ?? ''}`.trim();
const isOutcome = (body: string | undefined) => !!body && body.startsWith('{"resourceType":"OperationOutcome"');

/** The response entry of an entry that ran: its status, location, version and (Prefer permitting) the resource. */
export function resultEntry(r: ResolvedEntry, result: FhirResult, fhirBase: string): BundleEntryText {
  const h = result.headers ?? {};
  const outcome = isOutcome(result.body);
  const id = result.audit?.resourceId;
  return {
    ...(id && result.body && !outcome && r.interaction !== 'search' ? { fullUrl: `${fhirBase}/${r.def.type}/${id}` } : {}),
    ...(result.body && !outcome ? { resource: result.body } : {}),
    response: {
      status: statusLine(result.status),
      ...(h.Location ? { location: h.Location } : {}),
      ...(h.ETag ? { etag: h.ETag } : {}),
      ...(h['Last-Modified'] ? { lastModified: new Date(h['Last-Modified']).toISOString() } : {}),
      ...(outcome ? { outcome: result.body } : {}),
    },
  };
}

/** The response entry of an entry that failed: its status and OperationOutcome. */
export function errorEntry(err: OperationOutcomeError): BundleEntryText {
  return { response: { status: statusLine(err.status), outcome: JSON.stringify(err.toOperationOutcome()) } };
}

/** The failing entry's error, saying which entry it was (by position, method and type: never its values). */
export function locatedError(entry: BundleEntryRequest, type: string | undefined, err: OperationOutcomeError): OperationOutcomeError {
  const at = `Bundle.entry[${entry.index}] (${entry.method}${type ? ` ${type}` : ''})`;
  return new OperationOutcomeError(err.status, err.issues.map((i) => ({ ...i, diagnostics: `${at}: ${i.diagnostics ?? i.code}` })), err.headers);
}
