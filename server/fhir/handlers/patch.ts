import jsonpatch, { type Operation } from 'fast-json-patch';
import { badRequest, notFound, preconditionFailed, unprocessable, unsupportedMediaType } from '../../http/errors';
import { OperationOutcomeError } from '../../http/errors';
import { ifMatchVersion } from '../body';
import type { FhirResult, InteractionContext } from '../interaction';
import type { FhirResource } from '../repository';
import { type ValidatedType, validateResource } from '../validation';
import { ourId } from './instance';
import { writtenResult } from './write';

/** JSON Patch (RFC 6902) on the current version; the result is validated like any update. */
export async function patch(ctx: InteractionContext): Promise<FhirResult> {
  const id = ourId(ctx.req.params.id);
  if (!/^application\/json-patch\+json\s*(;.*)?$/i.test(ctx.req.headers['content-type'] ?? '')) {
    throw unsupportedMediaType('PATCH takes application/json-patch+json');
  }
  let ops: unknown;
  try {
    ops = JSON.parse(ctx.req.body);
  } catch {
    throw badRequest('The patch is not valid JSON');
  }
  if (!Array.isArray(ops) || !ops.length) throw badRequest('A JSON Patch is a non-empty array of operations');
  const invalid = jsonpatch.validate(ops as Operation[]);
  if (invalid) throw badRequest(`Invalid patch operation: ${invalid.name}`);
  const previous = await ctx.repo.read(id, true);
  if (!previous || previous.deleted) throw notFound(`${ctx.def.type}/${id} is not known`);
  const expected = ifMatchVersion(ctx.req);
  if (expected !== undefined && expected !== previous.versionId) {
    throw preconditionFailed(`If-Match version ${expected} does not match the current version ${previous.versionId}`);
  }
  let patched: FhirResource;
  try {
    patched = jsonpatch.applyPatch(JSON.parse(previous.resource), ops as Operation[], true, false).newDocument as FhirResource;
  } catch (err) {
    throw unprocessable(`The patch cannot be applied: ${(err as Error).name === 'TEST_OPERATION_FAILED' ? 'a test operation failed' : (err as Error).message.split('\n')[0].slice(0, 120)}`);
  }
  if (patched?.resourceType !== ctx.def.type || patched.id !== id) throw unprocessable('A patch may not change resourceType or id');
  const issues = validateResource(patched, ctx.def.type as ValidatedType);
  if (issues.length) throw new OperationOutcomeError(422, issues);
  const v = await ctx.repo.write(patched, { id, previous });
  return writtenResult(ctx, 200, v);
}
