import { RESOURCE_DEFINITIONS, definitionOf } from '../resources';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';

// What an `_include` / `_revinclude` value means, apart from fetching: parse.ts reads it, include.ts follows it.

/** One `_include` / `_revinclude`: follow `param` of `source` (forward from matches, or back to them). */
export interface IncludeSpec {
  rev: boolean;
  source: ResourceDefinition;
  param: SearchParamDef;
  /** The types fetched: for _include the targets, for _revinclude the source type. */
  types: string[];
}

/** The served types a reference parameter can point at (any served type when it names none). */
export function servedTargets(p: SearchParamDef): string[] {
  const served = RESOURCE_DEFINITIONS.map((d) => d.type);
  return p.targets ? p.targets.filter((t) => served.includes(t)) : served;
}

/** A `Source:param[:Target]` value as a spec, or null when this server does not support it. */
export function parseIncludeSpec(def: ResourceDefinition, rev: boolean, raw: string): IncludeSpec | null {
  const [sourceType, name, target, ...rest] = raw.split(':');
  if (rest.length || !name) return null;
  const source = rev ? definitionOf(sourceType) : sourceType === def.type ? def : undefined;
  const param = source?.search.find((p) => p.name === name && p.type === 'reference');
  if (!source || !param) return null;
  const targets = servedTargets(param);
  if (rev) return targets.includes(def.type) && (!target || target === def.type) ? { rev, source, param, types: [source.type] } : null;
  if (target && !targets.includes(target)) return null;
  return targets.length ? { rev, source, param, types: target ? [target] : targets } : null;
}
