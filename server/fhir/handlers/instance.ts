import { grants } from '../../auth/permissions';
import { badRequest, gone, notFound, OperationOutcomeError } from '../../http/errors';
import { isUuid } from '../../http/ids';
import type { FhirResult, InteractionContext } from '../interaction';
import type { StoredVersion } from '../repository';

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

/**
 * A conditional read's 304: If-None-Match naming the current version, or, when it is absent (RFC
 * 9110 13.2.2), If-Modified-Since not before the last update (HTTP dates have whole seconds).
 */
export function notModified(headers: Readonly<Record<string, string | undefined>>, v: { versionId: number; lastUpdated: string }): boolean {
  const inm = headers['if-none-match'];
  if (typeof inm === 'string') return inm.replace(/^W\//, '') === `"${v.versionId}"`;
  const ims = headers['if-modified-since'];
  const since = typeof ims === 'string' ? Date.parse(ims) : NaN;
  return !Number.isNaN(since) && Math.floor(Date.parse(v.lastUpdated) / 1000) * 1000 <= since;
}

/**
 * For a caller who could break the glass, a restricted (R-labelled) record that RLS hid is refused
 * as `suppressed` rather than absent; the database answers only "exists, R and break-glassable"
 * (app_break_glass_available, migration 032). Null: a plain 404 it stays.
 */
async function emergencyAccessAvailable(ctx: InteractionContext, id: string): Promise<OperationOutcomeError | null> {
  if (ctx.access.patientId || !grants(ctx.membership.permissions, 'clinical.breakGlass.request')) return null;
  const [row] = await ctx.sql.rows<{ ok: boolean }>({ sql: 'select app_break_glass_available($1, $2) as ok', bindings: [ctx.def.type, id] });
  if (!row?.ok) return null;
  return new OperationOutcomeError(403, {
    severity: 'error', code: 'suppressed',
    diagnostics: `${ctx.def.type}/${id} is restricted to those in the patient's care: emergency access is available through $break-glass on the patient`,
  });
}

export async function read(ctx: InteractionContext): Promise<FhirResult> {
  const id = ourId(ctx.req.params.id);
  const v = await ctx.repo.read(id);
  if (!v) throw await emergencyAccessAvailable(ctx, id) ?? notFound(`${ctx.def.type}/${id} is not known`);
  const audit = { resourceId: id, versionId: String(v.versionId), patientIds: v.patientId ? [v.patientId] : [] };
  if (v.deleted) throw gone(`${ctx.def.type}/${id} has been deleted`);
  const headers = resourceHeaders(ctx.def.type, v, ctx.deps.cfg.fhirBaseUrl);
  if (notModified(ctx.req.headers, v)) return { status: 304, headers, audit };
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
