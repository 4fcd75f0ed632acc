import type { AuditFacts } from '../../audit/record';
import { recordAudit, writeAudit } from '../../audit/writer';
import { badRequest, forbidden, OperationOutcomeError } from '../../http/errors';
import type { AccessContext } from '../../tenancy/access-context';
import { bundleText, type BundleEntryText } from '../bundle';
import {
  callerFacts, type ClinicScope, compartmentFor, type FhirDeps, type FhirResult, inClinicScope, type Performed, performInteraction, writeAudits,
} from '../interaction';
import type { FhirRequest } from '../request';
import { entryRequest, type ResolvedEntry, resolveEntry } from './entry';
import { parsePostedBundle, type PostedBundle } from './parse';
import { errorEntry, locatedError, resultEntry } from './response';
import { planTransaction, resolveUrns, urnReferences } from './urn';

type Resolved = ResolvedEntry | { failed: OperationOutcomeError; entry: PostedBundle['entries'][number] };
const failedOf = (r: Resolved) => ('failed' in r ? r : undefined);

/** Carries a transaction's failing entry out of its savepoint, so the savepoint rolls back. */
class EntryFailed extends Error {
  constructor(readonly entry: ResolvedEntry, readonly performed: Performed & { error: OperationOutcomeError }) { super('transaction entry failed'); }
}

function resolveAll(bundle: PostedBundle, fhirBase: string): Resolved[] {
  return bundle.entries.map((entry) => {
    try {
      return resolveEntry(entry, fhirBase);
    } catch (err) {
      if (err instanceof OperationOutcomeError) return { failed: err, entry };
      throw err;
    }
  });
}

/**
 * `POST [base]` with a batch or transaction Bundle. Every entry runs as the same interaction would
 * over HTTP (authorize, handler, AuditEvent), inside ONE RLS transaction of the caller; the Bundle
 * itself leaves one more AuditEvent (subtype batch or transaction).
 */
export async function runBundle(deps: FhirDeps, access: AccessContext, outer: FhirRequest): Promise<FhirResult> {
  let bundle: PostedBundle;
  try {
    bundle = parsePostedBundle(outer.headers['content-type'], outer.body);
  } catch (err) {
    // Refused before its type was known for sure: labelled by what the body claims, for the audit only.
    const kind = /"type"\s*:\s*"transaction"/.test(outer.body.slice(0, 4096)) ? 'transaction' : 'batch';
    if (err instanceof OperationOutcomeError) await recordAudit(deps.db, { ...callerFacts(access, kind, 'E'), resourceType: 'Bundle', outcome: '4', outcomeDesc: err.message });
    throw err;
  }
  const facts: AuditFacts = { ...callerFacts(access, bundle.type, 'E'), resourceType: 'Bundle' };
  const resolved = resolveAll(bundle, deps.cfg.fhirBaseUrl);
  const runnable = resolved.filter((r): r is ResolvedEntry => !('failed' in r));
  const compartment = compartmentFor(access, runnable.map((r) => ({ type: r.def.type, interaction: r.interaction })));
  const outcome = await inClinicScope(deps, access, compartment, facts, async (scope): Promise<{ result?: FhirResult; error?: OperationOutcomeError }> => {
    const refuse = async (error: OperationOutcomeError) => {
      await writeAudit(scope.trx, { ...facts, roleName: scope.membership?.role, outcome: '4', outcomeDesc: error.message });
      return { error };
    };
    if (!scope.membership) return refuse(forbidden('The user has no active membership at this clinic'));
    if (bundle.type === 'batch') return { result: await runBatch(scope, outer, resolved, facts) };
    const broken = resolved.map(failedOf).find((f) => f !== undefined);
    if (broken) return refuse(locatedError(broken.entry, undefined, broken.failed));
    let plan;
    try {
      plan = planTransaction(runnable);
    } catch (err) {
      if (err instanceof OperationOutcomeError) return refuse(err);
      throw err;
    }
    try {
      return { result: await runTransaction(scope, outer, runnable, plan, facts) };
    } catch (err) {
      if (!(err instanceof EntryFailed)) throw err;
      // The savepoint rolled back every entry: what remains is the refused entry and the failed transaction.
      await writeAudits(scope.trx, err.performed.audits);
      return refuse(locatedError(err.entry.entry, err.entry.def.type, err.performed.error));
    }
  });
  if (outcome.error) throw outcome.error;
  return outcome.result as FhirResult;
}

/** All or nothing: every entry in one savepoint, in FHIR order, urn:uuid references resolved as entries create. */
async function runTransaction(
  scope: ClinicScope, outer: FhirRequest, entries: ResolvedEntry[], plan: ReturnType<typeof planTransaction>, facts: AuditFacts,
): Promise<FhirResult> {
  const base = scope.deps.cfg.fhirBaseUrl;
  const ids = new Map(plan.known);
  const responses = new Map<ResolvedEntry, BundleEntryText>();
  await scope.trx.transaction(async (sp) => {
    const inner: ClinicScope = { ...scope, trx: sp };
    for (const r of plan.order) {
      const resource = r.entry.resource && r.interaction !== 'patch' ? resolveUrns(r.entry.resource, ids) : r.entry.resource;
      let req: FhirRequest;
      try {
        req = entryRequest(r, resource, outer);
      } catch (err) {
        if (err instanceof OperationOutcomeError) throw new EntryFailed(r, { error: err, audits: [] });
        throw err;
      }
      const p = await performInteraction(inner, req, r.def, r.interaction, r.handler, { savepoint: false });
      if (p.error) throw new EntryFailed(r, { ...p, error: p.error });
      const result = p.result as FhirResult;
      await writeAudits(sp, p.audits);
      const fullUrl = r.entry.fullUrl;
      if (fullUrl && !ids.has(fullUrl) && result.audit?.resourceId) ids.set(fullUrl, `${r.def.type}/${result.audit.resourceId}`);
      responses.set(r, resultEntry(r, result, base));
    }
  });
  await writeAudit(scope.trx, { ...facts, roleName: scope.membership?.role });
  return { status: 200, body: bundleText('transaction-response', { entries: entries.map((r) => responses.get(r) as BundleEntryText) }) };
}

/** Each entry on its own, in its own savepoint: one failing leaves the others standing. */
async function runBatch(scope: ClinicScope, outer: FhirRequest, resolved: Resolved[], facts: AuditFacts): Promise<FhirResult> {
  const fullUrls = new Set(resolved.map((r) => r.entry.fullUrl).filter((u): u is string => !!u));
  const entries: BundleEntryText[] = [];
  let failures = 0;
  for (const r of resolved) {
    const answer = await runBatchEntry(scope, outer, r, fullUrls);
    if ('error' in answer) {
      failures++;
      entries.push(errorEntry(locatedError(r.entry, 'def' in r ? r.def.type : undefined, answer.error)));
    } else {
      entries.push(answer.entry);
    }
  }
  await writeAudit(scope.trx, {
    ...facts, roleName: scope.membership?.role,
    ...(failures ? { outcomeDesc: `${failures} of ${resolved.length} entries failed` } : {}),
  });
  return { status: 200, body: bundleText('batch-response', { entries }) };
}

async function runBatchEntry(
  scope: ClinicScope, outer: FhirRequest, r: Resolved, fullUrls: ReadonlySet<string>,
): Promise<{ entry: BundleEntryText } | { error: OperationOutcomeError }> {
  if ('failed' in r) return { error: r.failed };
  let req: FhirRequest;
  try {
    // A batch resolves nothing between its entries (FHIR: they must be independent).
    if (urnReferences(r.entry.resource).some((ref) => fullUrls.has(ref))) {
      throw badRequest('Entries of a batch cannot reference each other: use a transaction');
    }
    req = entryRequest(r, r.entry.resource, outer);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return { error: err };
    throw err;
  }
  const p = await performInteraction(scope, req, r.def, r.interaction, r.handler, { savepoint: true });
  await writeAudits(scope.trx, p.audits);
  return p.error ? { error: p.error } : { entry: resultEntry(r, p.result as FhirResult, scope.deps.cfg.fhirBaseUrl) };
}
