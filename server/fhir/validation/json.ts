// Narrowing helpers for untyped JSON bodies, so rule code never needs `any`.

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

// FHIR JSON treats `x` and its extension twin `_x` as one element: either one makes it present.
export function hasElement(node: JsonObject, name: string): boolean {
  return present(node[name]) || present(node[`_${name}`]);
}

// True when some `prefix<Type>` property (a choice variant such as valueQuantity), or its `_` twin, is present.
export function hasChoice(node: JsonObject, prefix: string): boolean {
  return Object.keys(node).some((raw) => {
    const key = raw.startsWith('_') ? raw.slice(1) : raw;
    return key.length > prefix.length && key.startsWith(prefix) && /[A-Z]/.test(key[prefix.length]);
  });
}

export function stringAt(node: JsonObject, name: string): string | undefined {
  const value = node[name];
  return typeof value === 'string' ? value : undefined;
}

export function numberAt(node: JsonObject, name: string): number | undefined {
  const value = node[name];
  return typeof value === 'number' ? value : undefined;
}

export function objectAt(node: JsonObject, name: string): JsonObject | undefined {
  const value = node[name];
  return isObject(value) ? value : undefined;
}

export function arrayAt(node: JsonObject, name: string): unknown[] {
  const value = node[name];
  return Array.isArray(value) ? value : [];
}

export function valueAtPointer(data: unknown, pointer: string): unknown {
  let current: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isObject(current)) current = current[token];
    else return undefined;
  }
  return current;
}
