import { badRequest, forbidden, preconditionFailed } from '../../http/errors';
import { type InteractionContext, permits } from '../interaction';
import { canonicalQuery } from '../paging';
import type { StoredVersion } from '../repository';
import { parseQuery } from '../request';
import { applyCriteria } from '../search/compile';
import { requireLinkedTypes } from '../search/chain';
import { parseSearch } from '../search/parse';

/**
 * The current resources that conditional criteria (`identifier=sys|v`) select: compiled by the search
 * engine and run in the interaction's own RLS transaction, so another clinic's rows cannot match.
 * At most two are read: one is enough to act on, two are too many.
 */
export async function matchCriteria(
  ctx: InteractionContext, pairs: ReadonlyArray<readonly [string, string]>, what: string, opts: { serialize: boolean },
): Promise<StoredVersion[]> {
  // Whether anything matches is itself information: a conditional interaction needs search too.
  const search = permits(ctx, ctx.def.type, 'search');
  if (!search.allowed || search.constraints) {
    throw forbidden(`Access denied: a conditional ${what} searches ${ctx.def.type}, and ${search.reason ?? 'granular scopes are honoured on plain search only'}`);
  }
  // Strict: an ignored criterion would widen the match to resources the client never meant.
  const parsed = parseSearch(ctx.def, pairs.map(([k, v]) => [k, v]), true);
  if (!parsed.criteria.length) throw badRequest(`A conditional ${what} needs at least one search criterion`);
  requireLinkedTypes(ctx, parsed.criteria);
  if (opts.serialize) {
    // Two concurrent conditional creates with the same criteria must not both create: serialize them.
    const key = `${ctx.access.clinicId}|${ctx.def.type}|${canonicalQuery(parsed.canonical)}`;
    await ctx.trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [key]);
  }
  const q = applyCriteria(ctx.repo.searchQuery(), ctx.def, parsed.criteria, ctx.deps.cfg.fhirBaseUrl);
  if (search.compartmentPatientId && search.compartmentPatientId !== ctx.compartmentPatientId) {
    ctx.repo.confineToCompartment(q, search.compartmentPatientId);
  }
  return ctx.repo.runSearch(q.orderBy('id').limit(2));
}

/** `If-None-Exist: identifier=x` (a query, with or without `Type?`): the one existing match, or null. */
export async function ifNoneExist(ctx: InteractionContext, header: string): Promise<StoredVersion | null> {
  const qs = header.includes('?') ? header.slice(header.indexOf('?') + 1) : header;
  const found = await matchCriteria(ctx, parseQuery(qs), 'create', { serialize: true });
  if (found.length > 1) throw preconditionFailed(`If-None-Exist matches more than one ${ctx.def.type}: nothing was created`);
  return found[0] ?? null;
}
