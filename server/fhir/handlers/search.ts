import type { OperationOutcomeIssue } from 'fhir/r4';
import { badRequest, unsupportedMediaType } from '../../http/errors';
import { bundleText, type BundleEntryText } from '../bundle';
import type { Knex } from 'knex';
import type { AccessContext } from '../../auth/access-context';
import type { Decision } from '../../auth/authorize';
import type { FhirDeps, FhirResult, InteractionContext } from '../interaction';
import type { Repository, StoredVersion } from '../repository';
import type { ResourceDefinition } from '../resources/types';
import { canonicalQuery, signPage, verifyPage } from '../paging';
import { type FhirRequest, parseQuery } from '../request';
import { applyCriteria, applySort, pagedLookupSearch, pagedSearch } from '../search/compile';
import { fetchIncludes, type Included } from '../search/include';
import { requireLinkedTypes } from '../search/chain';
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

/** A search ready to run: its parsed criteria, the page asked for, and what its links bind to. */
export interface SearchPlan {
  parsed: ReturnType<typeof parseSearch>;
  /** The criteria as the AuditEvent records them. */
  query: string;
  offset: number;
  binding: { clinicId: string; userId: string; canonical: string };
}

/** Parses a search (and the granular scope that narrows it) and checks its page cursor; a 400 on bad input. */
export function planSearch(deps: FhirDeps, def: ResourceDefinition, access: AccessContext, req: FhirRequest, constraints: Decision['constraints']): SearchPlan {
  const pairs = queryPairs(req);
  // Strict unless asked otherwise: an ignored parameter would answer unfiltered rows the client believes filtered.
  const lenient = /(^|[;,\s])handling=lenient\b/.test(req.headers.prefer ?? '');
  const parsed = parseSearch(def, pairs, !lenient);
  for (const constraint of constraints?.length === 1 ? constraints : []) {
    // A granular scope (e.g. ?category=x) narrows what this token may search, as extra criteria.
    parsed.criteria.push(...parseSearch(def, Object.entries(constraint), true).criteria);
  }
  if (constraints && constraints.length > 1) throw badRequest('Several granular scopes at once are not supported');
  const binding = { clinicId: access.clinicId, userId: access.userId, canonical: canonicalQuery(parsed.canonical) };
  const page = pairs.find(([k]) => k === '_page');
  const offset = page ? verifyPage(deps.pageSecret, binding, page[1]) : 0;
  return { parsed, query: new URLSearchParams(parsed.canonical).toString(), offset, binding };
}

/** The query of a search's page (one row more than the page, to know whether a next page exists). */
export function pageQuery(deps: FhirDeps, def: ResourceDefinition, repo: Repository, plan: SearchPlan): Knex.QueryBuilder {
  const { parsed, offset } = plan;
  const window = { limit: parsed.count + 1, offset };
  const fhirBase = deps.cfg.fhirBaseUrl;
  return pagedSearch(repo.searchQuery(), def, parsed.criteria, parsed.sort, fhirBase, window)
    ?? pagedLookupSearch(repo.searchQuery(), def, parsed.criteria, parsed.sort, fhirBase, window)
    ?? applySort(applyCriteria(repo.searchQuery(), def, parsed.criteria, fhirBase), def, parsed.sort).limit(window.limit).offset(window.offset);
}

const base = (deps: FhirDeps, def: ResourceDefinition) => `${deps.cfg.fhirBaseUrl}/${def.type}`;
const selfQueryOf = (plan: SearchPlan) => plan.parsed.canonical.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** The searchset Bundle of a page of rows (the lookahead row dropped), with its links, includes and notes. */
export function searchBundle(
  deps: FhirDeps, def: ResourceDefinition, plan: SearchPlan, rows: StoredVersion[], total: number | undefined, included: Included | undefined,
): FhirResult {
  const { parsed, offset, binding } = plan;
  const selfQuery = selfQueryOf(plan);
  const links = [{ relation: 'self', url: `${base(deps, def)}?${selfQuery}` }];
  const hasNext = rows.length > parsed.count;
  const matches = rows.slice(0, parsed.count);
  const pageLink = (o: number) => `${base(deps, def)}?${selfQuery}${selfQuery ? '&' : ''}_page=${signPage(deps.pageSecret, binding, o)}`;
  if (hasNext) links.push({ relation: 'next', url: pageLink(offset + parsed.count) });
  if (offset > 0) links.push({ relation: 'previous', url: pageLink(Math.max(0, offset - parsed.count)) });

  const entries: BundleEntryText[] = matches.map((v) => ({
    fullUrl: `${base(deps, def)}/${v.id}`, resource: elementsFilter(v.resource, parsed.elements), search: { mode: 'match' },
  }));
  entries.push(...(included?.entries ?? []));
  const notes: OperationOutcomeIssue[] = [
    ...parsed.ignored.map((p): OperationOutcomeIssue => ({ severity: 'warning', code: 'not-supported', diagnostics: `Search parameter ${p} is not supported and was ignored` })),
    ...(included?.withheld ?? []).map((w): OperationOutcomeIssue => ({ severity: 'warning', code: 'suppressed', diagnostics: `Some included resources were withheld: this token may not read ${w.resourceType}` })),
    ...(included?.truncated ? [{ severity: 'warning', code: 'too-costly', diagnostics: 'Included resources were cut off at the server limit: narrow the search or lower _count' } as OperationOutcomeIssue] : []),
  ];
  if (notes.length) entries.push({ resource: JSON.stringify({ resourceType: 'OperationOutcome', issue: notes }), search: { mode: 'outcome' } });

  const patientIds = [...new Set([...matches.map((v) => v.patientId), ...(included?.patientIds ?? [])].filter((p): p is string => !!p))];
  return { status: 200, body: bundleText('searchset', { total, links, entries }), audit: { patientIds, query: plan.query, withheld: included?.withheld } };
}

export async function search(ctx: InteractionContext): Promise<FhirResult> {
  const plan = planSearch(ctx.deps, ctx.def, ctx.access, ctx.req, ctx.decision.constraints);
  const { parsed } = plan;
  requireLinkedTypes(ctx, parsed.criteria);
  let total: number | undefined;
  if (parsed.total === 'accurate' || parsed.summaryCount) {
    const [{ n }] = await applyCriteria(ctx.repo.searchQuery(), ctx.def, parsed.criteria, ctx.deps.cfg.fhirBaseUrl).count<{ n: string }[]>({ n: '*' });
    total = Number(n);
  }
  if (parsed.summaryCount) {
    const links = [{ relation: 'self', url: `${base(ctx.deps, ctx.def)}?${selfQueryOf(plan)}` }];
    return { status: 200, body: bundleText('searchset', { total, links, entries: [] }), audit: { patientIds: [], query: plan.query } };
  }
  const rows = await ctx.repo.runSearch(pageQuery(ctx.deps, ctx.def, ctx.repo, plan));
  const included = await fetchIncludes(ctx, parsed.includes, rows.slice(0, parsed.count));
  return searchBundle(ctx.deps, ctx.def, plan, rows, total, included);
}
