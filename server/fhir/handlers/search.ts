import type { OperationOutcomeIssue } from 'fhir/r4';
import { badRequest, unsupportedMediaType } from '../../http/errors';
import { bundleText, type BundleEntryText } from '../bundle';
import type { FhirResult, InteractionContext } from '../interaction';
import { canonicalQuery, signPage, verifyPage } from '../paging';
import { type FhirRequest, parseQuery } from '../request';
import { applyCriteria, applySort, pagedSearch } from '../search/compile';
import { fetchIncludes } from '../search/include';
import { parseSearch } from '../search/parse';

/** Query parameters as ordered pairs, from the URL and a form-encoded `POST _search` body. */
export function queryPairs(req: FhirRequest): Array<[string, string]> {
  const pairs: Array<[string, string]> = req.query.map(([k, v]) => [k, v]);
  if (req.method === 'POST' && req.body) {
    if (!/^application\/x-www-form-urlencoded\s*(;.*)?$/i.test(req.headers['content-type'] ?? '')) {
      throw unsupportedMediaType('POST _search takes its parameters as application/x-www-form-urlencoded');
    }
    pairs.push(...parseQuery(req.body));
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
  const strict = /handling=strict/.test(ctx.req.headers.prefer ?? '');
  const parsed = parseSearch(ctx.def, pairs, strict);
  for (const constraint of ctx.decision.constraints?.length === 1 ? ctx.decision.constraints : []) {
    // A granular scope (e.g. ?category=x) narrows what this token may search, as extra criteria.
    parsed.criteria.push(...parseSearch(ctx.def, Object.entries(constraint), true).criteria);
  }
  if (ctx.decision.constraints && ctx.decision.constraints.length > 1) throw badRequest('Several granular scopes at once are not supported');
  const query = new URLSearchParams(parsed.canonical).toString();

  const binding = { clinicId: ctx.access.clinicId, userId: ctx.access.userId, canonical: canonicalQuery(parsed.canonical) };
  const page = pairs.find(([k]) => k === '_page');
  const offset = page ? verifyPage(ctx.deps.pageSecret, binding, page[1]) : 0;
  const matching = () => applyCriteria(ctx.repo.searchQuery(), ctx.def, parsed.criteria, ctx.deps.cfg.fhirBaseUrl);

  let total: number | undefined;
  if (parsed.total === 'accurate' || parsed.summaryCount) {
    const [{ n }] = await matching().count<{ n: string }[]>({ n: '*' });
    total = Number(n);
  }
  const base = `${ctx.deps.cfg.fhirBaseUrl}/${ctx.def.type}`;
  const selfQuery = parsed.canonical.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const links = [{ relation: 'self', url: `${base}?${selfQuery}` }];
  if (parsed.summaryCount) return { status: 200, body: bundleText('searchset', { total, links, entries: [] }), audit: { patientIds: [], query } };

  const window = { limit: parsed.count + 1, offset };
  const rows = await ctx.repo.runSearch(pagedSearch(ctx.repo.searchQuery(), ctx.def, parsed.criteria, parsed.sort, ctx.deps.cfg.fhirBaseUrl, window)
    ?? applySort(matching(), ctx.def, parsed.sort).limit(window.limit).offset(window.offset));
  const hasNext = rows.length > parsed.count;
  const matches = rows.slice(0, parsed.count);
  const pageLink = (o: number) => `${base}?${selfQuery}${selfQuery ? '&' : ''}_page=${signPage(ctx.deps.pageSecret, binding, o)}`;
  if (hasNext) links.push({ relation: 'next', url: pageLink(offset + parsed.count) });
  if (offset > 0) links.push({ relation: 'previous', url: pageLink(Math.max(0, offset - parsed.count)) });

  const entries: BundleEntryText[] = matches.map((v) => ({
    fullUrl: `${base}/${v.id}`, resource: elementsFilter(v.resource, parsed.elements), search: { mode: 'match' },
  }));
  const included = await fetchIncludes(ctx, parsed.includes, matches);
  entries.push(...included.entries);

  const notes: OperationOutcomeIssue[] = [
    ...parsed.ignored.map((p): OperationOutcomeIssue => ({ severity: 'warning', code: 'not-supported', diagnostics: `Search parameter ${p} is not supported and was ignored` })),
    ...included.withheld.map((w): OperationOutcomeIssue => ({ severity: 'warning', code: 'suppressed', diagnostics: `Some included resources were withheld: this token may not read ${w.resourceType}` })),
    ...(included.truncated ? [{ severity: 'warning', code: 'too-costly', diagnostics: 'Included resources were cut off at the server limit: narrow the search or lower _count' } as OperationOutcomeIssue] : []),
  ];
  if (notes.length) entries.push({ resource: JSON.stringify({ resourceType: 'OperationOutcome', issue: notes }), search: { mode: 'outcome' } });

  const patientIds = [...new Set([...matches.map((v) => v.patientId), ...included.patientIds].filter((p): p is string => !!p))];
  return { status: 200, body: bundleText('searchset', { total, links, entries }), audit: { patientIds, query, withheld: included.withheld } };
}
