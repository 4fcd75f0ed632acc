// What we change in the official R4 JSON schema before compiling it, each change with its reason.

import type { TemporalKind } from './datetime';
import { isObject, type JsonObject } from './json';
import { MISSING_ENUMS } from './missing-enums';

export const TEMPORAL_KINDS: readonly TemporalKind[] = ['date', 'dateTime', 'instant', 'time'];
const CONTAINED_REF = '#/definitions/ResourceList';

type Definitions = Record<string, JsonObject>;

function visit(node: unknown, fn: (schema: JsonObject) => void): void {
  if (Array.isArray(node)) node.forEach((child) => visit(child, fn));
  if (!isObject(node)) return;
  fn(node);
  Object.values(node).forEach((child) => visit(child, fn));
}

// Each `contained` item refers to all 146 resource types, which makes a naive compile take seconds;
// contained resources are validated one by one, by their own type, in containment.ts instead.
function cutContained(definitions: Definitions): void {
  visit(definitions, (schema) => {
    if (schema.$ref !== CONTAINED_REF) return;
    delete schema.$ref;
    schema.type = 'object';
  });
}

// The date patterns accept 2023-02-30; they appear both as primitive definitions and as inline
// copies (choice variants such as deceasedDateTime), so the format goes wherever the pattern is.
function attachTemporalFormats(definitions: Definitions): void {
  const kindByPattern = new Map(TEMPORAL_KINDS.map((kind) => [String(definitions[kind].pattern), kind]));
  visit(definitions, (schema) => {
    const kind = typeof schema.pattern === 'string' ? kindByPattern.get(schema.pattern) : undefined;
    if (kind) schema.format = `fhir-${kind}`;
  });
}

// Integers are JSON numbers with a string pattern, which ajv never applies to a number: 1.5 or -3
// would pass as a positiveInt. FHIR integers are 32-bit.
function attachIntegerBounds(definitions: Definitions): void {
  const max = 2147483647;
  const bounds = { integer: { minimum: -max - 1, maximum: max }, unsignedInt: { minimum: 0, maximum: max }, positiveInt: { minimum: 1, maximum: max } };
  const byPattern = new Map(Object.entries(bounds).map(([name, b]) => [String(definitions[name].pattern), b]));
  visit(definitions, (schema) => {
    const found = typeof schema.pattern === 'string' && schema.type === 'number' ? byPattern.get(schema.pattern) : undefined;
    if (found) Object.assign(schema, { type: 'integer' }, found);
  });
}

function attachMissingEnums(definitions: Definitions): void {
  for (const [defName, properties] of Object.entries(MISSING_ENUMS)) {
    for (const [name, codes] of Object.entries(properties)) {
      const props = definitions[defName]?.properties;
      const property = isObject(props) ? props[name] : undefined;
      if (!isObject(property)) throw new Error(`missing-enums.ts: ${defName}.${name} is not in the R4 schema`);
      (isObject(property.items) ? property.items : property).enum = [...codes];
    }
  }
}

// Complex types carry `properties` but no `type: object`, so "name": ["x"] or "maritalStatus": 5
// would pass: properties and additionalProperties only judge objects.
function requireObjects(definitions: Definitions): void {
  for (const def of Object.values(definitions)) if (isObject(def.properties)) def.type = 'object';
}

/** Applies every correction, in place, to the schema's definitions. */
export function patchDefinitions(definitions: Definitions): void {
  cutContained(definitions);
  attachTemporalFormats(definitions);
  attachIntegerBounds(definitions);
  attachMissingEnums(definitions);
  requireObjects(definitions);
}
