import { badRequest, notFound, preconditionFailed } from '../../http/errors';
import { isUuid } from '../../http/ids';
import { ifMatchVersion, readResourceBody } from '../body';
import type { FhirResult, InteractionContext } from '../interaction';
import type { FhirResource, StoredVersion } from '../repository';
import { ifNoneExist } from './criteria';
import { FHIR_ID, ourId, resourceHeaders } from './instance';

/** `Prefer: return=minimal|representation|OperationOutcome` (representation by default). */
function preferReturn(ctx: InteractionContext): 'minimal' | 'representation' | 'OperationOutcome' {
  const m = /return=(minimal|representation|OperationOutcome)/.exec(String(ctx.req.headers.prefer ?? ''));
  return (m?.[1] as 'minimal' | 'representation' | 'OperationOutcome' | undefined) ?? 'representation';
}

export function writtenResult(ctx: InteractionContext, status: number, v: StoredVersion): FhirResult {
  const base = ctx.deps.cfg.fhirBaseUrl;
  const headers: Record<string, string> = {
    ...resourceHeaders(ctx.def.type, v, base),
    Location: `${base}/${ctx.def.type}/${v.id}/_history/${v.versionId}`,
  };
  const audit = { resourceId: v.id, versionId: String(v.versionId), patientIds: v.patientId ? [v.patientId] : [] };
  const prefer = preferReturn(ctx);
  if (prefer === 'minimal') return { status, headers, audit };
  if (prefer === 'OperationOutcome') {
    const oo = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `${ctx.def.type}/${v.id} version ${v.versionId} stored` }] };
    return { status, headers, audit, body: JSON.stringify(oo) };
  }
  return { status, headers, audit, body: v.resource };
}

export async function create(ctx: InteractionContext): Promise<FhirResult> {
  const resource = readResourceBody(ctx.req, ctx.def.type);
  // The server assigns ids on create; a client id in the body is ignored as FHIR specifies.
  delete resource.id;
  const criteria = ctx.req.headers['if-none-exist'];
  if (criteria !== undefined) {
    const existing = await ifNoneExist(ctx, criteria);
    if (existing) return writtenResult(ctx, 200, existing);
  }
  const v = await ctx.repo.write(resource, {});
  return writtenResult(ctx, 201, v);
}

/** The id of a PUT, which may name a resource to create: ids on this server are UUIDs. */
function putId(raw: string | undefined): string {
  if (!raw || !FHIR_ID.test(raw)) throw badRequest('The id is not a valid FHIR id');
  if (!isUuid(raw)) throw badRequest('Resource ids on this server are UUIDs: a client-chosen id must be a UUID such as 0b7e9a51-3c1f-4b47-9d0e-6f1a2c3d4e5f');
  return raw.toLowerCase();
}

export async function update(ctx: InteractionContext): Promise<FhirResult> {
  const id = putId(ctx.req.params.id);
  const resource = readResourceBody(ctx.req, ctx.def.type);
  if (resource.id === undefined) throw badRequest('The body must carry the id of the resource being updated', [`${ctx.def.type}.id`]);
  if (typeof resource.id !== 'string' || resource.id.toLowerCase() !== id) throw badRequest(`The id in the body (${String(resource.id).slice(0, 64)}) differs from the id in the URL`, [`${ctx.def.type}.id`]);
  return updateById(ctx, id, resource);
}

/** Writes `resource` as the next version of `id`, honouring If-Match. */
export async function updateById(ctx: InteractionContext, id: string, resource: FhirResource): Promise<FhirResult> {
  const expected = ifMatchVersion(ctx.req);
  const previous = await ctx.repo.read(id, true);
  // Update as create: an id unknown in this clinic (whatever another clinic holds) is created with it.
  if (!previous) return createWithId(ctx, id, resource, expected);
  if (expected !== undefined && expected !== previous.versionId) {
    throw preconditionFailed(`If-Match version ${expected} does not match the current version ${previous.versionId}`);
  }
  const v = await ctx.repo.write({ ...resource, id }, { id, previous });
  return writtenResult(ctx, 200, v);
}

async function createWithId(ctx: InteractionContext, id: string, resource: FhirResource, expected: number | undefined): Promise<FhirResult> {
  if (expected !== undefined) throw preconditionFailed(`If-Match version ${expected} names a version of ${ctx.def.type}/${id}, which does not exist`);
  ctx.require(ctx.def.type, 'create');
  const v = await ctx.repo.write({ ...resource, id }, { id });
  const result = writtenResult(ctx, 201, v);
  return { ...result, audit: { ...result.audit, interaction: 'create' } };
}

export async function remove(ctx: InteractionContext): Promise<FhirResult> {
  return deleteById(ctx, ourId(ctx.req.params.id));
}

/** Logical delete of `id`, honouring If-Match; deleting twice changes nothing. */
export async function deleteById(ctx: InteractionContext, id: string): Promise<FhirResult> {
  const previous = await ctx.repo.read(id, true);
  if (!previous) throw notFound(`${ctx.def.type}/${id} is not known`);
  const expected = ifMatchVersion(ctx.req);
  if (expected !== undefined && expected !== previous.versionId) {
    throw preconditionFailed(`If-Match version ${expected} does not match the current version ${previous.versionId}`);
  }
  const audit = { resourceId: id, patientIds: previous.patientId ? [previous.patientId] : [] };
  if (previous.deleted) return { status: 204, audit }; // deleting twice changes nothing
  const v = await ctx.repo.write(JSON.parse(previous.resource), { id, previous, deleted: true });
  return { status: 204, headers: { ETag: `W/"${v.versionId}"` }, audit: { ...audit, versionId: String(v.versionId) } };
}
