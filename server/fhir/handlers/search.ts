import type { Request } from 'express';
import { badRequest } from '../../http/errors';
import { bundleText, type BundleEntryText } from '../bundle';
import type { FhirResult, InteractionContext } from '../interaction';
import { canonicalQuery, signPage, verifyPage } from '../paging';
import { applyCriteria, applySort } from '../search/compile';
import { parseSearch } from '../search/parse';

/** Query parameters as ordered pairs, from the URL or a form-encoded `POST _search` body. */
export function queryPairs(req: Request): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const qs = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
  try {
    for (const [k, v] of new URLSearchParams(qs)) pairs.push([k, v]);
    if (req.method === 'POST' && typeof req.body === 'string' && /x-www-form-urlencoded/.test(String(req.headers['content-type']))) {
      for (const [k, v] of new URLSearchParams(req.body)) pairs.push([k, v]);
    }
  } catch {
    throw badRequest('The query string is malformed');
  }
  return pairs;
}

function elementsFilter(text: string, elements: string[] | undefined): string {
  if (!elements) return text;
  const r = JSON.parse(text) as Record<string, unknown>;
  const keep = new Set(['resourceType', 'id', 'meta', ...elements]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (keep.has(k)) out[k] = v;
  out.meta = { ...(r.meta as object), tag: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }] };
  return JSON.stringify(out);
}

export async function search(ctx: InteractionContext): Promise<FhirResult> {
  const pairs = queryPairs(ctx.req);
  const strict = /handling=strict/.test(String(ctx.req.headers.prefer ?? ''));
  const parsed = parseSearch(ctx.def, pairs, strict);
  for (const constraint of ctx.decision.constraints?.length === 1 ? ctx.decision.constraints : []) {
    // A granular scope (e.g. ?category=x) narrows what this token may search, as extra criteria.
    parsed.criteria.push(...parseSearch(ctx.def, Object.entries(constraint), true).criteria);
  }
  if (ctx.decision.constraints && ctx.decision.constraints.length > 1) throw badRequest('Several granular scopes at once are not supported');

  const binding = { clinicId: ctx.access.clinicId, userId: ctx.access.userId, canonical: canonicalQuery(parsed.canonical) };
  const page = pairs.find(([k]) => k === '_page');
  const offset = page ? verifyPage(ctx.deps.pageSecret, binding, page[1]) : 0;
  const q = applyCriteria(ctx.repo.searchQuery(), parsed.criteria, ctx.deps.cfg.fhirBaseUrl);

  let total: number | undefined;
  if (parsed.total === 'accurate' || parsed.summaryCount) {
    const [{ n }] = await q.clone().count<{ n: string }[]>({ n: '*' });
    total = Number(n);
  }
  const base = `${ctx.deps.cfg.fhirBaseUrl}/${ctx.def.type}`;
  const selfQuery = parsed.canonical.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const links = [{ relation: 'self', url: `${base}?${selfQuery}` }];
  if (parsed.summaryCount) return { status: 200, body: bundleText('searchset', { total, links, entries: [] }), audit: { patientIds: [] } };

  const rows = await ctx.repo.runSearch(applySort(q, ctx.def, parsed.sort).limit(parsed.count + 1).offset(offset));
  const hasNext = rows.length > parsed.count;
  const matches = rows.slice(0, parsed.count);
  const pageLink = (o: number) => `${base}?${selfQuery}${selfQuery ? '&' : ''}_page=${signPage(ctx.deps.pageSecret, binding, o)}`;
  if (hasNext) links.push({ relation: 'next', url: pageLink(offset + parsed.count) });
  if (offset > 0) links.push({ relation: 'previous', url: pageLink(Math.max(0, offset - parsed.count)) });

  const entries: BundleEntryText[] = matches.map((v) => ({
    fullUrl: `${base}/${v.id}`, resource: elementsFilter(v.resource, parsed.elements), search: { mode: 'match' },
  }));
  if (parsed.ignored.length) {
    const oo = { resourceType: 'OperationOutcome', issue: parsed.ignored.map((p) => ({ severity: 'warning', code: 'not-supported', diagnostics: `Search parameter ${p} is not supported and was ignored` })) };
    entries.push({ resource: JSON.stringify(oo), search: { mode: 'outcome' } });
  }
  const patientIds = [...new Set(matches.map((v) => v.patientId).filter((p): p is string => !!p))];
  return { status: 200, body: bundleText('searchset', { total, links, entries }), audit: { patientIds } };
}
