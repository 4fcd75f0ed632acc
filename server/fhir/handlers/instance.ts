import { grants } from '../../auth/permissions';
import { badRequest, gone, notFound, OperationOutcomeError } from '../../http/errors';
import { isUuid } from '../../http/ids';
import { bundleText, historyEntry } from '../bundle';
import type { FhirResult, InteractionContext } from '../interaction';
import type { StoredVersion } from '../repository';
import { queryValue } from '../request';

export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A syntactically valid FHIR id that is one of ours, or a 400/404 that reveals nothing. */
export function ourId(id: string | undefined): string {
  if (!id || !FHIR_ID.test(id)) throw badRequest('The id is not a valid FHIR id');
  if (!isUuid(id)) throw notFound();
  return id.toLowerCase();
}

export function resourceHeaders(type: string, v: StoredVersion, fhirBase: string): Record<string, string> {
  return {
    ETag: `W/"${v.versionId}"`,
    'Last-Modified': new Date(v.lastUpdated).toUTCString(),
    'Content-Location': `${fhirBase}/${type}/${v.id}/_history/${v.versionId}`,
  };
}

function notModified(ctx: InteractionContext, v: StoredVersion): boolean {
  const inm = ctx.req.headers['if-none-match'];
  return typeof inm === 'string' && inm.replace(/^W\//, '') === `"${v.versionId}"`;
}

/**
 * For a caller who could break the glass, a record that RLS hid for want of a care relationship (or
 * an R label) is refused as `suppressed` rather than absent; the database answers only "exists and
 * break-glassable" (app_break_glass_available, migration 032). Null: a plain 404 it stays.
 */
async function emergencyAccessAvailable(ctx: InteractionContext, id: string): Promise<OperationOutcomeError | null> {
  if (ctx.access.patientId || !grants(ctx.membership.permissions, 'clinical.breakGlass.request')) return null;
  const [row] = await ctx.sql.rows<{ ok: boolean }>({ sql: 'select app_break_glass_available($1, $2) as ok', bindings: [ctx.def.type, id] });
  if (!row?.ok) return null;
  return new OperationOutcomeError(403, {
    severity: 'error', code: 'suppressed',
    diagnostics: `${ctx.def.type}/${id} is outside your care relationships: emergency access is available through $break-glass on the patient`,
  });
}

export async function read(ctx: InteractionContext): Promise<FhirResult> {
  const id = ourId(ctx.req.params.id);
  const v = await ctx.repo.read(id);
  if (!v) throw await emergencyAccessAvailable(ctx, id) ?? notFound(`${ctx.def.type}/${id} is not known`);
  const audit = { resourceId: id, versionId: String(v.versionId), patientIds: v.patientId ? [v.patientId] : [] };
  if (v.deleted) throw gone(`${ctx.def.type}/${id} has been deleted`);
  const headers = resourceHeaders(ctx.def.type, v, ctx.deps.cfg.fhirBaseUrl);
  if (notModified(ctx, v)) return { status: 304, headers, audit };
  return { status: 200, body: v.resource, headers, audit };
}

export async function vread(ctx: InteractionContext): Promise<FhirResult> {
  const id = ourId(ctx.req.params.id);
  const vid = ctx.req.params.vid ?? '';
  if (!/^\d{1,9}$/.test(vid)) throw notFound(`Version ${vid.slice(0, 20)} is not known`);
  const v = await ctx.repo.readVersion(id, Number(vid));
  if (!v) throw notFound(`${ctx.def.type}/${id}/_history/${vid} is not known`);
  if (v.deleted) throw gone(`${ctx.def.type}/${id} version ${vid} is a deletion`);
  return {
    status: 200, body: v.resource, headers: resourceHeaders(ctx.def.type, v, ctx.deps.cfg.fhirBaseUrl),
    audit: { resourceId: id, versionId: vid, patientIds: v.patientId ? [v.patientId] : [] },
  };
}

function sinceOf(ctx: InteractionContext): Date | undefined {
  const s = queryValue(ctx.req, '_since');
  if (s === undefined) return undefined;
  const d = /^\d{4}-\d{2}-\d{2}T/.test(s) ? new Date(s) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw badRequest('_since must be an instant such as 2024-01-01T00:00:00Z');
  return d;
}

function countOf(ctx: InteractionContext): number {
  const c = queryValue(ctx.req, '_count');
  if (c === undefined) return 100;
  if (!/^\d{1,4}$/.test(c) || Number(c) > 1000) throw badRequest('_count must be an integer from 0 to 1000');
  return Number(c);
}

export async function history(ctx: InteractionContext): Promise<FhirResult> {
  const id = ctx.req.params.id === undefined ? null : ourId(ctx.req.params.id);
  const count = countOf(ctx);
  const versions = await ctx.repo.history(id, { since: sinceOf(ctx), count, offset: 0 });
  if (id && !versions.length) throw notFound(`${ctx.def.type}/${id} is not known`);
  const patients = [...new Set(versions.map((v) => v.patientId).filter((p): p is string => !!p))];
  return {
    status: 200,
    body: bundleText('history', { total: id ? versions.length : undefined, entries: versions.map((v) => historyEntry(ctx.deps.cfg.fhirBaseUrl, ctx.def.type, v)) }),
    audit: { resourceId: id ?? undefined, patientIds: patients },
  };
}
