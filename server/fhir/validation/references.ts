// Which resource type a Reference points at, as far as the reference itself can tell.

import { arrayAt, isObject, stringAt, type JsonObject } from './json';

const CORE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';
// Type/id, Type/id/_history/v, or the same at the end of an absolute URL.
const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** Contained resource with this local id (`#id` without the hash), if any. */
export function findContained(container: JsonObject, id: string): JsonObject | undefined {
  return arrayAt(container, 'contained').find((item): item is JsonObject => isObject(item) && item.id === id);
}

/**
 * The target type of a Reference: from a local `#id` (the contained resource's type), a literal
 * `Type/id` or URL ending in one, or failing those `Reference.type`. Undefined when unknowable
 * (identifier-only, urn:uuid without `type`).
 */
export function referenceTargetType(reference: JsonObject, container: JsonObject): string | undefined {
  const literal = stringAt(reference, 'reference');
  if (literal?.startsWith('#')) return stringAt(findContained(container, literal.slice(1)) ?? {}, 'resourceType');
  const match = literal ? LITERAL.exec(literal) : null;
  if (match) return match[1];
  const type = stringAt(reference, 'type');
  return type?.startsWith(CORE_PREFIX) ? type.slice(CORE_PREFIX.length) : type;
}
