import type { StoredVersion } from './repository';

/**
 * Bundles are assembled as JSON text around the stored resource text, so a search returns each
 * resource without parsing and re-serialising it.
 */
export interface BundleEntryText {
  fullUrl?: string;
  resource?: string;
  search?: { mode: 'match' | 'include' | 'outcome' };
  request?: { method: string; url: string };
  response?: { status: string; etag?: string; lastModified?: string; location?: string; outcome?: string };
}

export function bundleText(type: 'searchset' | 'history' | 'batch-response' | 'transaction-response', opts: {
  total?: number; links?: Array<{ relation: string; url: string }>; entries: BundleEntryText[];
}): string {
  const head: Record<string, unknown> = { resourceType: 'Bundle', type, timestamp: new Date().toISOString() };
  if (opts.total !== undefined) head.total = opts.total;
  if (opts.links?.length) head.link = opts.links;
  const entries = opts.entries.map((e) => {
    const parts: string[] = [];
    if (e.fullUrl) parts.push(`"fullUrl":${JSON.stringify(e.fullUrl)}`);
    if (e.resource) parts.push(`"resource":${e.resource}`);
    if (e.search) parts.push(`"search":${JSON.stringify(e.search)}`);
    if (e.request) parts.push(`"request":${JSON.stringify(e.request)}`);
    if (e.response) {
      const { outcome, ...rest } = e.response;
      parts.push(`"response":${JSON.stringify(rest).slice(0, -1)}${outcome ? `,"outcome":${outcome}` : ''}}`);
    }
    return `{${parts.join(',')}}`;
  });
  const headText = JSON.stringify(head);
  if (!entries.length) return headText; // FHIR JSON has no empty arrays
  return `${headText.slice(0, -1)},"entry":[${entries.join(',')}]}`;
}

export function historyEntry(fhirBase: string, type: string, v: StoredVersion): BundleEntryText {
  const url = `${fhirBase}/${type}/${v.id}`;
  if (v.deleted) {
    return { fullUrl: url, request: { method: 'DELETE', url: `${type}/${v.id}` }, response: { status: '204', etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated } };
  }
  return {
    fullUrl: url,
    resource: v.resource,
    request: { method: v.versionId === 1 ? 'POST' : 'PUT', url: v.versionId === 1 ? type : `${type}/${v.id}` },
    response: { status: v.versionId === 1 ? '201' : '200', etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated },
  };
}
