import { badRequest, unprocessable, unsupportedMediaType } from '../http/errors';
import type { FhirResource } from './repository';
import type { FhirRequest } from './request';
import { type ValidatedType, validateResource, validationStatus } from './validation';
import { OperationOutcomeError } from '../http/errors';

const JSON_TYPES = /^application\/(fhir\+)?json\s*(;.*)?$/i;

/** A JSON request body: FHIR JSON content type, not empty, well-formed (`expected` names what it should hold). */
export function parseJsonBody(contentType: string | undefined, text: string, expected: string): unknown {
  const ct = contentType ?? '';
  if (!JSON_TYPES.test(ct)) throw unsupportedMediaType(`Content-Type must be application/fhir+json (got ${ct.slice(0, 60) || 'none'})`);
  if (!text.trim()) throw badRequest(`The request body is empty: expected ${expected}`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`The request body is not valid JSON: ${(err as Error).message.slice(0, 120)}`);
  }
}

/**
 * The request body as a resource of `type`: right content type, well-formed JSON, the right
 * resourceType, valid against the R4 schema, our invariants and profile. Parsed here rather than
 * in a middleware so that every rejection happens inside the audited interaction.
 */
export function readResourceBody(req: FhirRequest, type: string): FhirResource {
  const parsed = parseJsonBody(req.headers['content-type'], req.body, 'a FHIR resource');
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('The request body must be a JSON object (a FHIR resource)');
  const rt = (parsed as { resourceType?: unknown }).resourceType;
  if (rt !== type) {
    throw badRequest(`The body is a ${typeof rt === 'string' ? rt.slice(0, 40) : 'non-resource'}, expected resourceType ${type}`, [`${type}.resourceType`]);
  }
  const issues = validateResource(parsed, type as ValidatedType);
  if (issues.length) throw new OperationOutcomeError(validationStatus(issues), issues);
  return parsed as FhirResource;
}

/** The version an `If-Match: W/"3"` header asks for. */
export function ifMatchVersion(req: FhirRequest): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(h.trim());
  if (!m) throw badRequest('If-Match must be a version ETag such as W/"3"');
  return Number(m[1]);
}

export { unprocessable };
