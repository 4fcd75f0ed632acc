import { badRequest, forbidden, preconditionFailed } from '../../http/errors';
import { readResourceBody } from '../body';
import { type FhirResult, type InteractionContext, permits } from '../interaction';
import { matchCriteria } from './criteria';
import { deleteById, updateById, writtenResult } from './write';

/** `PUT [type]?criteria`: no match creates, one match is updated, more are a 412. */
export async function conditionalUpdate(ctx: InteractionContext): Promise<FhirResult> {
  if (!ctx.req.query.length) throw badRequest(`PUT needs an id (${ctx.def.type}/[id]) or search criteria (${ctx.def.type}?...)`);
  const resource = readResourceBody(ctx.req, ctx.def.type);
  const found = await matchCriteria(ctx, ctx.req.query, 'update', { serialize: true });
  if (found.length > 1) throw preconditionFailed(`The criteria match more than one ${ctx.def.type}: nothing was updated`);
  const bodyId = typeof resource.id === 'string' ? resource.id.toLowerCase() : resource.id;
  const [match] = found;
  if (match) {
    if (bodyId !== undefined && bodyId !== match.id) throw badRequest('The id in the body differs from the resource the criteria match', [`${ctx.def.type}.id`]);
    return updateById(ctx, match.id, resource);
  }
  // This server assigns ids: a conditional update that finds nothing creates, without the client's id.
  if (bodyId !== undefined) throw badRequest('No resource matches the criteria, and this server does not create with a client-chosen id: omit the id', [`${ctx.def.type}.id`]);
  const create = permits(ctx, ctx.def.type, 'create');
  if (!create.allowed) throw forbidden(`Access denied: no resource matches, and ${create.reason ?? 'creating is not permitted'}`);
  if (create.compartmentPatientId && create.compartmentPatientId !== ctx.compartmentPatientId) throw forbidden('Access denied: patient-scoped create cannot run in this context');
  const result = writtenResult(ctx, 201, await ctx.repo.write(resource, {}));
  return { ...result, audit: { ...result.audit, interaction: 'create' } };
}

/** `DELETE [type]?criteria`: the single match is deleted, none is a 204, several a 412. */
export async function conditionalDelete(ctx: InteractionContext): Promise<FhirResult> {
  if (!ctx.req.query.length) throw badRequest(`DELETE needs an id (${ctx.def.type}/[id]) or search criteria (${ctx.def.type}?...)`);
  const found = await matchCriteria(ctx, ctx.req.query, 'delete', { serialize: false });
  if (found.length > 1) throw preconditionFailed(`The criteria match more than one ${ctx.def.type}: nothing was deleted`);
  if (!found.length) return { status: 204, audit: {} };
  return deleteById(ctx, found[0].id);
}
