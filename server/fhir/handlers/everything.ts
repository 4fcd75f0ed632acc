import type { OperationOutcomeIssue } from 'fhir/r4';
import { badRequest, notFound, notSupported } from '../../http/errors';
import { instantParam, typesParam } from '../bulk/params';
import { bundleText, type BundleEntryText } from '../bundle';
import { type FhirResult, type InteractionContext, permits } from '../interaction';
import { canonicalQuery, signPage, verifyPage } from '../paging';
import { Repository } from '../repository';
import { queryValue } from '../request';
import { RESOURCE_DEFINITIONS } from '../resources';
import type { ResourceDefinition } from '../resources/types';
import { ourId } from './instance';

/** What `$everything` answers: the patient and the types of its compartment, in this order. */
const EVERYTHING_TYPES: readonly ResourceDefinition[] = RESOURCE_DEFINITIONS
  .filter((d) => !d.serverWritten && (d.compartment === 'self' || 'paths' in d.compartment));
const KNOWN = new Set(['_since', '_type', '_count', '_page']);
const DEFAULT_COUNT = 50;

function countOf(ctx: InteractionContext): number {
  const c = queryValue(ctx.req, '_count');
  if (c === undefined) return DEFAULT_COUNT;
  if (!/^\d{1,4}$/.test(c) || Number(c) > 1000) throw badRequest('_count must be an integer from 0 to 1000', ['_count']);
  return Number(c);
}

/** The patient asked about: the instance's id, or at type level the patient in the token's context. */
function patientOf(ctx: InteractionContext): string {
  if (ctx.req.params.id !== undefined) return ourId(ctx.req.params.id);
  const inContext = ctx.compartmentPatientId ?? ctx.access.patientId;
  if (!inContext) throw badRequest('Patient/$everything without an id needs a patient in the token\'s context: use Patient/{id}/$everything');
  return ourId(inContext);
}

/** The rows of one type in the patient's compartment, as a query on its table. */
function compartmentRows(repo: Repository, def: ResourceDefinition, patientId: string, since: Date | undefined) {
  const q = repo.confineToCompartment(repo.searchQuery(), patientId);
  if (since) q.where(`${def.table}.last_updated`, '>', since);
  return q;
}

/**
 * `Patient/{id}/$everything` (and `Patient/$everything` for a token with a patient in context): the
 * patient and every resource of its compartment the caller may search, in one searchset, paged with
 * signed links as a search is. Types the caller may not read are left out, each audited as withheld
 * and named in an OperationOutcome entry. Audited as a read of that patient.
 */
export async function everything(ctx: InteractionContext): Promise<FhirResult> {
  if (ctx.def.type !== 'Patient') throw notSupported(`$everything is defined on Patient, not ${ctx.def.type}`);
  const unknown = ctx.req.query.find(([k]) => !KNOWN.has(k));
  if (unknown) throw notSupported(`The $everything parameter ${unknown[0].slice(0, 64)} is not supported (supported: _since, _type, _count)`);
  const id = patientOf(ctx);
  const sinceText = queryValue(ctx.req, '_since');
  const since = sinceText === undefined ? undefined : instantParam('_since', sinceText);
  const named = typesParam(ctx.req, EVERYTHING_TYPES, 'of the patient compartment');
  const count = countOf(ctx);
  const pairs = ctx.req.query.filter(([k]) => k !== '_page').map(([k, v]): [string, string] => [k, v]);
  const binding = { clinicId: ctx.access.clinicId, userId: ctx.access.userId, canonical: canonicalQuery([['$everything', id], ...pairs]) };
  const page = queryValue(ctx.req, '_page');
  const offset = page === undefined ? 0 : verifyPage(ctx.deps.pageSecret, binding, page);

  const patient = await ctx.repo.read(id);
  if (!patient || patient.deleted) throw notFound(`Patient/${id} is not known`);

  const withheld: Array<{ resourceType: string; reason: string }> = [];
  const types = (named ?? EVERYTHING_TYPES).filter((d) => {
    if (d.type === 'Patient') return true; // the read itself was authorized
    const decision = permits(ctx, d.type, 'search');
    const ok = decision.allowed && !decision.constraints && (!decision.compartmentPatientId || decision.compartmentPatientId === ctx.compartmentPatientId);
    if (!ok) withheld.push({ resourceType: d.type, reason: `Access denied: ${decision.reason ?? `${d.type} is not readable in this context`}` });
    return ok;
  });

  const fhirBase = ctx.deps.cfg.fhirBaseUrl;
  const entries: BundleEntryText[] = [];
  let skip = offset;
  let total = 0;
  for (const def of types) {
    const repo = def.type === 'Patient' ? ctx.repo : new Repository(def, ctx.trx, { fhirBase, sql: ctx.sql });
    const [{ n }] = await compartmentRows(repo, def, id, since).count<{ n: string }[]>({ n: '*' });
    const rows = Number(n);
    total += rows;
    const want = count - entries.length;
    if (skip >= rows) { skip -= rows; continue; }
    if (want > 0) {
      const got = await repo.runSearch(compartmentRows(repo, def, id, since).orderBy(`${def.table}.id`, 'asc').offset(skip).limit(want));
      entries.push(...got.map((v): BundleEntryText => ({ fullUrl: `${fhirBase}/${def.type}/${v.id}`, resource: v.resource, search: { mode: 'match' } })));
    }
    skip = 0;
  }

  const self = `${fhirBase}/Patient/${id}/$everything`;
  const selfQuery = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const pageLink = (o: number) => `${self}?${selfQuery}${selfQuery ? '&' : ''}_page=${signPage(ctx.deps.pageSecret, binding, o)}`;
  const links = [{ relation: 'self', url: selfQuery ? `${self}?${selfQuery}` : self }];
  if (count > 0 && offset + count < total) links.push({ relation: 'next', url: pageLink(offset + count) });
  if (count > 0 && offset > 0) links.push({ relation: 'previous', url: pageLink(Math.max(0, offset - count)) });
  if (withheld.length) {
    const issue = withheld.map((w): OperationOutcomeIssue => ({ severity: 'warning', code: 'suppressed', diagnostics: `${w.resourceType} resources were left out: this token may not read them` }));
    entries.push({ resource: JSON.stringify({ resourceType: 'OperationOutcome', issue }), search: { mode: 'outcome' } });
  }
  return {
    status: 200,
    body: bundleText('searchset', { total, links, entries }),
    audit: { resourceId: id, patientIds: [id], query: new URLSearchParams(pairs).toString() || undefined, withheld },
  };
}
