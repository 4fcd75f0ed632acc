// Choice elements (value[x]) read off the official JSON schema, which flattens them into plain properties.

import type { JsonObject } from './json';

export interface ChoiceGroup {
  /** The element name without [x], e.g. `deceased`. */
  prefix: string;
  /** The JSON properties that spell it, e.g. `deceasedBoolean`, `deceasedDateTime`. */
  variants: string[];
}

function typeSuffixes(definitions: Record<string, JsonObject>, resourceTypes: ReadonlySet<string>): Set<string> {
  const names = new Set<string>();
  for (const name of Object.keys(definitions)) {
    if (/^[a-z]/.test(name)) names.add(name[0].toUpperCase() + name.slice(1));
    else if (!name.includes('_') && !resourceTypes.has(name) && name !== 'ResourceList') names.add(name);
  }
  return names;
}

/**
 * A choice element is a set of at least two sibling single-valued properties `prefix<Type>` with
 * the same description; the schema has no other marker (reasonCode + reasonReference, both arrays,
 * are two elements, not a choice).
 */
export function deriveChoiceGroups(
  definitions: Record<string, JsonObject>,
  resourceTypes: ReadonlySet<string>,
): Map<string, ChoiceGroup[]> {
  const suffixes = typeSuffixes(definitions, resourceTypes);
  const result = new Map<string, ChoiceGroup[]>();
  for (const [defName, def] of Object.entries(definitions)) {
    const properties = def.properties;
    if (typeof properties !== 'object' || properties === null) continue;
    const props = properties as Record<string, JsonObject>;
    const byPrefix = new Map<string, string[]>();
    for (const prop of Object.keys(props)) {
      if (prop.startsWith('_') || props[prop].type === 'array') continue;
      for (let cut = 1; cut < prop.length; cut++) {
        if (!/[A-Z]/.test(prop[cut]) || !suffixes.has(prop.slice(cut))) continue;
        const prefix = prop.slice(0, cut);
        byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), prop]);
      }
    }
    const groups: ChoiceGroup[] = [];
    for (const [prefix, variants] of byPrefix) {
      const descriptions = new Set(variants.map((v) => props[v].description));
      if (variants.length >= 2 && descriptions.size === 1) groups.push({ prefix, variants });
    }
    if (groups.length > 0) result.set(defName, groups);
  }
  return result;
}
