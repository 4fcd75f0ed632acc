import type { AuditFacts } from '../../audit/record';
import { badRequest, OperationOutcomeError } from '../../http/errors';
import { audited, auditedOutside } from '../../pipeline/audited';
import type { AccessContext } from '../../auth/access-context';
import { bundleText, type BundleEntryText } from '../bundle';
import { callerFacts, type ClinicScope, compartmentFor, type FhirDeps, type FhirResult, interact, interactionFacts } from '../interaction';
import type { FhirRequest } from '../request';
import { resolveConditionalReferences } from './conditional-refs';
import { entryRequest, type ResolvedEntry, resolveEntry } from './entry';
import { parsePostedBundle, type PostedBundle } from './parse';
import { errorEntry, locatedError, resultEntry } from './response';
import { planTransaction, resolveUrns, urnReferences } from './urn';

type Resolved = ResolvedEntry | { failed: OperationOutcomeError; entry: PostedBundle['entries'][number] };
const failedOf = (r: Resolved) => ('failed' in r ? r : undefined);

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

/** The AuditEvent facts of one entry: the interaction it asks for, as over HTTP. */
function entryFacts(scope: ClinicScope, r: ResolvedEntry, req: FhirRequest): AuditFacts {
  return interactionFacts(scope.access, req, r.def, r.interaction);
}

/**
 * `POST [base]` with a batch or transaction Bundle. Every entry runs as the same interaction would
 * over HTTP (authorize, handler, AuditEvent), inside ONE audited RLS transaction of the caller; the
 * Bundle itself leaves one more AuditEvent (subtype batch or transaction).
 */
export async function runBundle(deps: FhirDeps, access: AccessContext, outer: FhirRequest): Promise<FhirResult> {
  // Refused before its type is known for sure: labelled by what the body claims, for the audit only.
  const claimed = /"type"\s*:\s*"transaction"/.test(outer.body.slice(0, 4096)) ? 'transaction' : 'batch';
  const bundle = await auditedOutside(deps.db, { ...callerFacts(access, claimed, 'E'), resourceType: 'Bundle' },
    async () => parsePostedBundle(outer.headers['content-type'], outer.body));
  const facts: AuditFacts = { ...callerFacts(access, bundle.type, 'E'), resourceType: 'Bundle' };
  const resolved = resolveAll(bundle, deps.cfg.fhirBaseUrl);
  const runnable = resolved.filter((r): r is ResolvedEntry => !('failed' in r));
  const compartmentPatientId = compartmentFor(access, runnable.map((r) => ({ type: r.def.type, interaction: r.interaction })));
  return audited(deps.db, access, facts, { compartmentPatientId }, async (tx) => {
    const scope: ClinicScope = { ...tx, deps };
    if (bundle.type === 'batch') return runBatch(scope, outer, resolved, facts);
    const broken = resolved.map(failedOf).find((f) => f !== undefined);
    if (broken) throw locatedError(broken.entry, undefined, broken.failed);
    return runTransaction(scope, outer, runnable, planTransaction(runnable), facts);
  });
}

/** All or nothing, in FHIR order, urn:uuid references resolved as entries create; a failing entry fails the Bundle. */
async function runTransaction(
  scope: ClinicScope, outer: FhirRequest, entries: ResolvedEntry[], plan: ReturnType<typeof planTransaction>, facts: AuditFacts,
): Promise<FhirResult> {
  const base = scope.deps.cfg.fhirBaseUrl;
  const ids = new Map(plan.known);
  const responses = new Map<ResolvedEntry, BundleEntryText>();
  const conditional = new Map<string, string>();
  for (const r of plan.order) {
    const resource = r.entry.resource && r.interaction !== 'patch' ? resolveUrns(r.entry.resource, ids) : r.entry.resource;
    let req: FhirRequest;
    try {
      // Conditional references resolve as the entry runs: an earlier entry may have created the match.
      req = entryRequest(r, resource && r.interaction !== 'patch' ? await resolveConditionalReferences(scope, resource, conditional) : resource, outer);
    } catch (err) {
      if (err instanceof OperationOutcomeError) throw locatedError(r.entry, r.def.type, err);
      throw err;
    }
    const done = await scope.step(entryFacts(scope, r, req), (tx) => interact({ ...tx, deps: scope.deps }, req, r.def, r.interaction, r.handler), { savepoint: false })
      .catch((err: unknown) => { throw err instanceof OperationOutcomeError ? locatedError(r.entry, r.def.type, err) : err; });
    const result = (done as { value: FhirResult }).value;
    const fullUrl = r.entry.fullUrl;
    if (fullUrl && !ids.has(fullUrl) && result.audit?.resourceId) ids.set(fullUrl, `${r.def.type}/${result.audit.resourceId}`);
    responses.set(r, resultEntry(r, result, base));
  }
  scope.audit(facts);
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
  scope.audit({ ...facts, ...(failures ? { outcomeDesc: `${failures} of ${resolved.length} entries failed` } : {}) });
  return { status: 200, body: bundleText('batch-response', { entries }) };
}

async function runBatchEntry(
  scope: ClinicScope, outer: FhirRequest, r: Resolved, fullUrls: ReadonlySet<string>,
): Promise<{ entry: BundleEntryText } | { error: OperationOutcomeError }> {
  // An entry refused before it resolved to an interaction is answered in the response only (as before).
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
  const done = await scope.step(entryFacts(scope, r, req), (tx) => interact({ ...tx, deps: scope.deps }, req, r.def, r.interaction, r.handler), { savepoint: true });
  return 'error' in done ? done : { entry: resultEntry(r, done.value, scope.deps.cfg.fhirBaseUrl) };
}
