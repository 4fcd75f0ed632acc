import type { AccessContext } from '../../auth/access-context';
import { badRequest, forbidden, notFound } from '../../http/errors';
import { audited } from '../../pipeline/audited';
import { bundleText, historyEntry } from '../bundle';
import { callerFacts, compartmentFor, type FhirDeps, type FhirResult, type InteractionContext, permits } from '../interaction';
import { canonicalQuery, signPage, verifyPage } from '../paging';
import { type HistoryWindow, Repository, type StoredVersion, unionHistory } from '../repository';
import type { FhirRequest } from '../request';
import { partialDateRange } from '../search/values';
import { RESOURCE_DEFINITIONS } from '../resources';
import { ourId } from './instance';

const PARAMS = new Set(['_since', '_at', '_count', '_page', '_format', '_pretty']);
const DEFAULT_COUNT = 100;

interface HistoryPlan { window: HistoryWindow; canonical: Array<[string, string]>; binding: { clinicId: string; userId: string; canonical: string } }

/** `_since` (an instant), `_at` (a date or dateTime: versions current at some moment of it), `_count`, `_page`; anything else is a 400. */
function historyPlan(access: AccessContext, req: FhirRequest, path: string, secret: string): HistoryPlan {
  const one = (name: string) => {
    const values = req.query.filter(([k]) => k === name).map(([, v]) => v);
    if (values.length > 1) throw badRequest(`${name} may be given once`);
    return values[0];
  };
  const unknown = req.query.find(([k]) => !PARAMS.has(k));
  if (unknown) throw badRequest(`History does not take the parameter ${unknown[0].slice(0, 40)} (only _since, _at, _count)`);
  const s = one('_since');
  const since = s === undefined ? undefined : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) ? new Date(s) : new Date(NaN);
  if (since && Number.isNaN(since.getTime())) throw badRequest('_since must be an instant with a time zone, such as 2024-01-01T00:00:00Z');
  const a = one('_at');
  const at = a === undefined ? undefined : partialDateRange(a) ?? undefined;
  if (a !== undefined && !at) throw badRequest('_at must be a date or dateTime, such as 2024-01-01 or 2024-01-01T10:00:00Z');
  const c = one('_count');
  if (c !== undefined && (!/^\d{1,4}$/.test(c) || Number(c) > 1000)) throw badRequest('_count must be an integer from 0 to 1000');
  const canonical = req.query.filter(([k]) => k === '_since' || k === '_at' || k === '_count').map(([k, v]): [string, string] => [k, v]);
  const binding = { clinicId: access.clinicId, userId: access.userId, canonical: `${path}?${canonicalQuery(canonical)}` };
  const page = one('_page');
  const offset = page === undefined ? 0 : verifyPage(secret, binding, page);
  return { window: { since, at, count: c === undefined ? DEFAULT_COUNT : Number(c), offset }, canonical, binding };
}

/** The history Bundle of one page (one row more was read, to know whether a next page exists). */
function historyBundle(deps: FhirDeps, path: string, plan: HistoryPlan, rows: Array<StoredVersion & { type: string }>, total?: number): string {
  const { count, offset } = plan.window;
  const self = plan.canonical.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const url = `${deps.cfg.fhirBaseUrl}${path}`;
  const pageLink = (o: number) => `${url}?${self}${self ? '&' : ''}_page=${signPage(deps.pageSecret, plan.binding, o)}`;
  const links = [{ relation: 'self', url: self ? `${url}?${self}` : url }];
  // _count=0 asks for no entries: there is no next page of nothing.
  if (count > 0 && rows.length > count) links.push({ relation: 'next', url: pageLink(offset + count) });
  if (count > 0 && offset > 0) links.push({ relation: 'previous', url: pageLink(Math.max(0, offset - count)) });
  const entries = rows.slice(0, count).map((v) => historyEntry(deps.cfg.fhirBaseUrl, v.type, v));
  return bundleText('history', { total, links, entries });
}

const patientsOf = (rows: StoredVersion[]) => [...new Set(rows.map((v) => v.patientId).filter((p): p is string => !!p))];

/** `GET [type]/_history` and `GET [type]/[id]/_history`, newest first, paged. */
export async function history(ctx: InteractionContext): Promise<FhirResult> {
  const id = ctx.req.params.id === undefined ? null : ourId(ctx.req.params.id);
  const path = id ? `/${ctx.def.type}/${id}/_history` : `/${ctx.def.type}/_history`;
  const plan = historyPlan(ctx.access, ctx.req, path, ctx.deps.pageSecret);
  const rows = (await ctx.repo.history(id, { ...plan.window, count: plan.window.count + 1 })).map((v) => ({ ...v, type: ctx.def.type }));
  // An empty window of an id the caller cannot see answers as that id would: 404, never an empty page.
  if (id && !rows.length && !(await ctx.repo.read(id))) throw notFound(`${ctx.def.type}/${id} is not known`);
  const page = rows.slice(0, plan.window.count);
  return {
    status: 200,
    // An instance's whole history on one page states its total (as before paging existed).
    body: historyBundle(ctx.deps, path, plan, rows, id && plan.window.offset === 0 && rows.length <= plan.window.count ? rows.length : undefined),
    audit: { resourceId: id ?? undefined, patientIds: patientsOf(page), query: new URLSearchParams(plan.canonical).toString() || undefined },
  };
}

/**
 * `GET [base]/_history`: every version of every type the caller may read the history of, newest
 * first, in one RLS transaction; types the caller may not see are left out and audited as refusals.
 */
export async function runSystemHistory(deps: FhirDeps, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const served = RESOURCE_DEFINITIONS.filter((d) => d.interactions.includes('history-type'));
  const facts = { ...callerFacts(access, 'history-system', 'R') };
  const compartmentPatientId = compartmentFor(access, served.map((d) => ({ type: d.type, interaction: 'history-type' as const })));
  return audited(deps.db, access, facts, { compartmentPatientId }, async (tx) => {
    const plan = historyPlan(access, req, '/_history', deps.pageSecret);
    const scope = { access, membership: tx.membership };
    const allowed = served.filter((d) => {
      const decision = permits(scope, d.type, 'history-type');
      return decision.allowed && !decision.constraints && (!decision.compartmentPatientId || decision.compartmentPatientId === tx.compartmentPatientId);
    });
    if (!allowed.length) throw forbidden('Access denied: no resource type this token and role may read the history of');
    const repos = allowed.map((d) => new Repository(d, tx.trx, { fhirBase: deps.cfg.fhirBaseUrl, sql: tx.sql }));
    const rows = await unionHistory(tx.trx, repos, { ...plan.window, count: plan.window.count + 1 });
    const page = rows.slice(0, plan.window.count);
    const query = new URLSearchParams(plan.canonical).toString() || undefined;
    tx.audit({ ...facts, query, patientIds: patientsOf(page) });
    for (const d of served.filter((s) => !allowed.includes(s))) {
      tx.audit({ ...facts, resourceType: d.type, outcome: '4', outcomeDesc: `history of ${d.type} withheld: not permitted for this token and role` });
    }
    const answer: FhirResult = { status: 200, body: historyBundle(deps, '/_history', plan, rows) };
    // Documents get their signed links (each audited) as in type history.
    const docs = allowed.find((d) => d.storesAttachments);
    if (!docs || !deps.hooks?.present) return answer;
    const ctx: InteractionContext = { ...tx, deps, def: docs, req, decision: permits(scope, docs.type, 'history-type'), repo: repos[allowed.indexOf(docs)] };
    const shown = await deps.hooks.present(ctx, 'history-type', answer);
    for (const e of shown.audit?.extra ?? []) tx.audit(e);
    return { status: shown.status, body: shown.body, headers: shown.headers };
  });
}
