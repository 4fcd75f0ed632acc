// Compiles a StructureDefinition differential into element rules and slice membership tests.
// Supported: min/max, fixed[x], pattern[x], required bindings to enumerated ValueSets,
// Reference target types, and open slicing by `type` (x.resolve()) or `exists` discriminators.

import { arrayAt, isObject, stringAt, type JsonObject } from './json';
import type { Concept, StoredProfile } from './profile-store';
import { referenceTargetType } from './references';

export interface Segment {
  name: string;
  slice?: string;
}

export interface ElementRule {
  id: string;
  segments: Segment[];
  min?: number;
  max?: number;
  fixed?: unknown;
  pattern?: unknown;
  binding?: { valueSet: string; concepts: Concept[] };
  targetTypes?: string[];
}

export type SliceMatcher = (item: unknown, container: JsonObject) => boolean;

export interface CompiledProfile {
  id: string;
  url: string;
  type: string;
  rules: ElementRule[];
  /** Membership test per slice, keyed by slice element id, e.g. Appointment.participant:patient. */
  slices: Map<string, SliceMatcher>;
}

const CORE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';
const DOCUMENTATION = new Set(['id', 'path', 'short', 'definition', 'comment', 'requirements', 'alias', 'label', 'mustSupport']);
const ENFORCED = new Set(['sliceName', 'slicing', 'min', 'max', 'type', 'binding']);

/** Values at a plain dotted path below `node`, arrays flattened; `_x` twins count as present. */
export function valuesAt(node: unknown, names: readonly string[]): unknown[] {
  let current: unknown[] = [node];
  for (const name of names) {
    current = current.flatMap((value) => {
      if (!isObject(value)) return [];
      const found = value[name] ?? value[`_${name}`];
      return found === undefined ? [] : Array.isArray(found) ? found : [found];
    });
  }
  return current;
}

function parseId(id: string, type: string, where: string): Segment[] {
  const [root, ...rest] = id.split('.');
  if (root !== type) throw new Error(`${where}: element ${id} is outside ${type}`);
  return rest.map((part) => {
    const [name, slice] = part.split(':');
    return slice ? { name, slice } : { name };
  });
}

function targetTypes(type: unknown, profileTypes: ReadonlyMap<string, string>, where: string): string[] | undefined {
  if (type === undefined) return undefined;
  const entries = Array.isArray(type) ? type : [];
  return entries.flatMap((entry) => {
    if (!isObject(entry) || entry.code !== 'Reference' || arrayAt(entry, 'targetProfile').length === 0) {
      throw new Error(`${where}: only type [{ code: Reference, targetProfile }] is supported`);
    }
    return arrayAt(entry, 'targetProfile').map((url) => {
      const known = typeof url === 'string' ? (url.startsWith(CORE_PREFIX) ? url.slice(CORE_PREFIX.length) : profileTypes.get(url)) : undefined;
      if (!known) throw new Error(`${where}: unknown targetProfile ${String(url)}`);
      return known;
    });
  });
}

function compileElement(el: JsonObject, profile: StoredProfile, valueSets: ReadonlyMap<string, Concept[]>, profileTypes: ReadonlyMap<string, string>): ElementRule {
  const id = stringAt(el, 'id') ?? stringAt(el, 'path') ?? '';
  const where = `${profile.id} ${id}`;
  const rule: ElementRule = { id, segments: parseId(id, profile.type, where) };
  for (const [key, value] of Object.entries(el)) {
    if (key.startsWith('fixed')) rule.fixed = value;
    else if (key.startsWith('pattern')) rule.pattern = value;
    else if (!DOCUMENTATION.has(key) && !ENFORCED.has(key)) throw new Error(`${where}: '${key}' is not supported by the profile interpreter`);
  }
  if (typeof el.min === 'number') rule.min = el.min;
  if (typeof el.max === 'string' && el.max !== '*') rule.max = Number(el.max);
  rule.targetTypes = targetTypes(el.type, profileTypes, where);
  const binding = isObject(el.binding) ? el.binding : undefined;
  if (binding?.strength === 'required') {
    const valueSet = (stringAt(binding, 'valueSet') ?? '').split('|')[0];
    const concepts = valueSets.get(valueSet);
    if (!concepts) throw new Error(`${where}: required binding to ${valueSet}, which is not in fhir-profiles/`);
    rule.binding = { valueSet, concepts };
  }
  return rule;
}

function discriminatorTest(discriminator: unknown, sliceId: string, rules: ReadonlyMap<string, ElementRule>, where: string): SliceMatcher {
  const type = isObject(discriminator) ? stringAt(discriminator, 'type') : undefined;
  const path = isObject(discriminator) ? stringAt(discriminator, 'path') ?? '' : '';
  if (type === 'type' && path.endsWith('.resolve()')) {
    const names = path.slice(0, -'.resolve()'.length).split('.');
    const allowed = rules.get(`${sliceId}.${names.join('.')}`)?.targetTypes;
    if (!allowed) throw new Error(`${where}: slice ${sliceId} must give ${names.join('.')} a Reference targetProfile`);
    return (item, container) => valuesAt(item, names).some((ref) => isObject(ref) && allowed.includes(referenceTargetType(ref, container) ?? ''));
  }
  if (type === 'exists') {
    const names = path.split('.');
    const rule = rules.get(`${sliceId}.${path}`);
    if (rule?.min !== undefined && rule.min >= 1) return (item) => valuesAt(item, names).length > 0;
    if (rule?.max === 0) return (item) => valuesAt(item, names).length === 0;
    throw new Error(`${where}: slice ${sliceId} must set min 1 or max 0 on ${path}`);
  }
  throw new Error(`${where}: discriminator ${type ?? '?'} ${path} is not supported (type with resolve(), or exists)`);
}

export function compileProfile(profile: StoredProfile, valueSets: ReadonlyMap<string, Concept[]>, profileTypes: ReadonlyMap<string, string>): CompiledProfile {
  const differential = isObject(profile.resource.differential) ? profile.resource.differential : {};
  const elements = arrayAt(differential, 'element').filter(isObject);
  const rules = elements.map((el) => compileElement(el, profile, valueSets, profileTypes)).filter((rule) => rule.segments.length > 0);
  const byId = new Map(rules.map((rule) => [rule.id, rule]));
  const slicings = new Map<string, JsonObject>();
  for (const el of elements) if (isObject(el.slicing)) slicings.set(stringAt(el, 'id') ?? '', el.slicing);
  const slices = new Map<string, SliceMatcher>();
  for (const el of elements.filter((e) => typeof e.sliceName === 'string')) {
    const sliceId = stringAt(el, 'id') ?? '';
    const where = `${profile.id} ${sliceId}`;
    const slicing = slicings.get(sliceId.slice(0, sliceId.lastIndexOf(':')));
    if (!slicing || slicing.rules !== 'open') throw new Error(`${where}: needs open slicing on its base element`);
    const tests = arrayAt(slicing, 'discriminator').map((d) => discriminatorTest(d, sliceId, byId, where));
    if (tests.length === 0) throw new Error(`${where}: slicing needs a discriminator`);
    slices.set(sliceId, (item, container) => tests.every((test) => test(item, container)));
  }
  return { id: profile.id, url: profile.url, type: profile.type, rules, slices };
}
