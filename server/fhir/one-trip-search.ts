import type { Knex } from 'knex';
import { sqlLiteral } from '../../db/literal';
import { auditRecord } from '../audit/record';
import { AUDIT_COLUMN_LIST, preparedAuditValues, preparedStatement, withRequestFacts } from '../audit/writer';
import type { AccessContext, Membership } from '../auth/access-context';
import { OperationOutcomeError } from '../http/errors';
import { oneTrip, type OneTripPlan, plainlyGranted } from '../pipeline/one-trip';
import { type FhirDeps, type FhirResult, compartmentFor, interactionFacts } from './interaction';
import { pageQuery, planSearch, type SearchPlan, searchBundle } from './handlers/search';
import { Repository } from './repository';
import { linkedTypes } from './search/chain';
import type { FhirRequest } from './request';
import type { ResourceDefinition } from './resources/types';

/**
 * The message of a search page in one round trip, or undefined when the cached role does not plainly
 * grant it. A prepared statement per search shape (the same criteria, sort and count; values are
 * its parameters), run on its generic plan: planning the page, its partitions and the audit insert
 * on every search cost PostgreSQL more than running them. The page's parameters are typed by where
 * they stand; the audit row's by its columns.
 */
export function oneTripSearch(
  deps: FhirDeps, def: ResourceDefinition, access: AccessContext, req: FhirRequest, plan: SearchPlan, membership: Membership,
  compartment: string | undefined, repo: Repository,
): OneTripPlan | undefined {
  if (!plainlyGranted(access, membership, def.type, 'search', compartment)) return undefined;
  const page = repo.withVersionColumns(pageQuery(deps, def, repo, plan)).toSQL().toNative();
  const facts = withRequestFacts({ ...interactionFacts(access, req, def, 'search'), query: plan.query, roleName: membership.role });
  const audit = preparedAuditValues(auditRecord(facts), {
    patient_id: 'case when cardinality(pats.ids) = 1 then pats.ids[1] end',
    patient_ids: 'case when cardinality(pats.ids) > 1 then pats.ids end',
  }, page.bindings.length + 1);
  const text = `with page as materialized (select q.*, row_number() over () as page_row from (${page.sql}) q),
      pats as (select array(select patient_id from page where page_row <= ${plan.parsed.count} and patient_id is not null group by patient_id order by min(page_row)) as ids),
      ev as (insert into audit_event (${AUDIT_COLUMN_LIST}) select ${audit.sql} from pats returning id, clinic_id, last_updated, patient_ids),
      side as (insert into audit_event_patient (clinic_id, patient_id, last_updated, id) select ev.clinic_id, p, ev.last_updated, ev.id from ev, unnest(ev.patient_ids) p)
      select * from page order by page_row`;
  return {
    statement: preparedStatement('search', text, [...page.bindings.map(() => 'unknown'), ...audit.types], [...page.bindings.map(sqlLiteral), ...audit.args]),
    genericPlan: true,
  };
}

/**
 * `GET [type]?criteria` in one round trip (pipeline/one-trip.ts): the page of matches and the
 * AuditEvent naming the patients it shows are one statement (the page is a CTE the audit insert
 * reads), sent with BEGIN, the checked context and COMMIT. Only for a search that is a page and
 * nothing else: no _total or _summary=count, no includes, no chains, no document links to sign; everything
 * else, every refusal and every bad input take the full path.
 */
export async function searchInOneTrip(deps: FhirDeps, access: AccessContext, req: FhirRequest, def: ResourceDefinition): Promise<FhirResult | undefined> {
  if (def.storesAttachments || req.method !== 'GET') return undefined;
  let plan: SearchPlan;
  try {
    plan = planSearch(deps, def, access, req, undefined);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return undefined; // refused (and audited) by the full path
    throw err;
  }
  const { parsed } = plan;
  if (parsed.total === 'accurate' || parsed.summaryCount || parsed.includes.length) return undefined;
  // A chain or _has needs the right to search another type: the full path checks it.
  if (linkedTypes(parsed.criteria).length) return undefined;
  const compartment = compartmentFor(access, [{ type: def.type, interaction: 'search' }]);
  // Built on the pool's knex (nothing runs here): the same statement the full path sends.
  const repo = new Repository(def, deps.db as Knex.Transaction, { fhirBase: deps.cfg.fhirBaseUrl });
  const rows = await oneTrip<Record<string, unknown>>(deps.db, access, compartment, (membership) => oneTripSearch(deps, def, access, req, plan, membership, compartment, repo));
  if (!rows) return undefined;
  const { audit: _, ...answer } = searchBundle(deps, def, plan, repo.versionsOf(rows), undefined, undefined);
  return answer;
}
