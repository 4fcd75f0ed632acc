// The profile interpreter: runs compiled differential rules (profile-elements.ts) on a resource.

import { describeValue, issue, type ValidationIssue } from './issues';
import { isObject, type JsonObject } from './json';
import type { CompiledProfile, ElementRule, Segment } from './profile-elements';
import type { Concept } from './profile-store';
import { referenceTargetType } from './references';

interface Located {
  value: unknown;
  path: string;
  /** False when only the `_x` extension twin is there (a primitive with no value). */
  hasValue: boolean;
}

function keysFor(node: JsonObject, name: string): string[] {
  if (!name.endsWith('[x]')) return [name];
  const prefix = name.slice(0, -3);
  return Object.keys(node).filter((k) => k.startsWith(prefix) && /[A-Z]/.test(k.charAt(prefix.length)));
}

function sliceKey(profile: CompiledProfile, segments: readonly Segment[]): string {
  return [profile.type, ...segments.map((s) => (s.slice ? `${s.name}:${s.slice}` : s.name))].join('.');
}

// The children of one node for one segment, filtered to a slice's members when the segment names one.
function childrenOf(parent: Located, upTo: readonly Segment[], profile: CompiledProfile, resource: JsonObject): Located[] {
  if (!isObject(parent.value)) return [];
  const node = parent.value;
  const segment = upTo[upTo.length - 1];
  const found: Located[] = [];
  for (const key of keysFor(node, segment.name)) {
    const [value, twin] = [node[key], node[`_${key}`]];
    if (Array.isArray(value) || Array.isArray(twin)) {
      const length = Math.max(Array.isArray(value) ? value.length : 0, Array.isArray(twin) ? twin.length : 0);
      for (let i = 0; i < length; i++) {
        const item: unknown = Array.isArray(value) ? value[i] : undefined;
        const extra: unknown = Array.isArray(twin) ? twin[i] : undefined;
        if (item !== undefined && item !== null) found.push({ value: item, path: `${parent.path}.${key}[${i}]`, hasValue: true });
        else if (extra !== undefined && extra !== null) found.push({ value: extra, path: `${parent.path}.${key}[${i}]`, hasValue: false });
      }
    } else if (value !== undefined) {
      found.push({ value, path: `${parent.path}.${key}`, hasValue: true });
    } else if (twin !== undefined) {
      found.push({ value: twin, path: `${parent.path}.${key}`, hasValue: false });
    }
  }
  const inSlice = segment.slice ? profile.slices.get(sliceKey(profile, upTo)) : undefined;
  return inSlice ? found.filter((child) => inSlice(child.value, resource)) : found;
}

function locate(resource: JsonObject, segments: readonly Segment[], profile: CompiledProfile): Located[] {
  let nodes: Located[] = [{ value: resource, path: profile.type, hasValue: true }];
  segments.forEach((_, k) => {
    nodes = nodes.flatMap((node) => childrenOf(node, segments.slice(0, k + 1), profile, resource));
  });
  return nodes;
}

/** `pattern` is contained in `value`: objects by their keys, arrays item by some item, scalars by equality. */
function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) return Array.isArray(value) && pattern.every((p) => value.some((v) => matchesPattern(v, p)));
  if (isObject(pattern)) return isObject(value) && Object.entries(pattern).every(([k, p]) => matchesPattern(value[k], p));
  return value === pattern;
}

function equalsExactly(value: unknown, fixed: unknown): boolean {
  if (Array.isArray(fixed)) return Array.isArray(value) && value.length === fixed.length && fixed.every((f, i) => equalsExactly(value[i], f));
  if (isObject(fixed)) {
    return isObject(value) && Object.keys(value).length === Object.keys(fixed).length && Object.entries(fixed).every(([k, f]) => equalsExactly(value[k], f));
  }
  return value === fixed;
}

// A code matches by code; a Coding by system and code; a CodeableConcept when one of its codings does.
function inValueSet(value: unknown, concepts: readonly Concept[]): boolean {
  if (typeof value === 'string') return concepts.some((c) => c.code === value);
  if (!isObject(value)) return false;
  if (Array.isArray(value.coding)) return value.coding.some((coding) => inValueSet(coding, concepts));
  return concepts.some((c) => c.code === value.code && (c.system === undefined || c.system === value.system));
}

function countIssues(rule: ElementRule, parent: Located, count: number, profile: CompiledProfile): ValidationIssue[] {
  const last = rule.segments[rule.segments.length - 1];
  const path = `${parent.path}.${last.name}`;
  const what = last.slice ? `in slice '${last.slice}' (${rule.id})` : '';
  if (rule.min !== undefined && count < rule.min) {
    const message = last.slice ? `needs at least ${rule.min} ${what}, found ${count}` : `required element is missing (min ${rule.min})`;
    return [issue('required', path, `${message}; profile ${profile.id}`)];
  }
  if (rule.max !== undefined && count > rule.max) {
    return [issue('structure', path, `at most ${rule.max} allowed ${what}, found ${count}; profile ${profile.id}`)];
  }
  return [];
}

function valueIssues(rule: ElementRule, child: Located, resource: JsonObject, profile: CompiledProfile): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const suffix = `; profile ${profile.id}`;
  if (rule.fixed !== undefined && !equalsExactly(child.value, rule.fixed)) {
    out.push(issue('value', child.path, `expected exactly ${describeValue(rule.fixed)}, got ${describeValue(child.value)}${suffix}`));
  }
  if (rule.pattern !== undefined && !matchesPattern(child.value, rule.pattern)) {
    out.push(issue('value', child.path, `expected a value matching the pattern ${JSON.stringify(rule.pattern).slice(0, 120)}${suffix}`));
  }
  if (rule.binding && child.hasValue && !inValueSet(child.value, rule.binding.concepts)) {
    const codes = rule.binding.concepts.map((c) => c.code).join('|');
    out.push(issue('value', child.path, `expected one of ${codes} (ValueSet ${rule.binding.valueSet}), got ${describeValue(child.value)}${suffix}`));
  }
  if (rule.targetTypes && isObject(child.value)) {
    const target = referenceTargetType(child.value, resource);
    if (!target || !rule.targetTypes.includes(target)) {
      const got = target ? `a reference to ${target}` : 'a reference whose target type cannot be told (use Type/id or set Reference.type)';
      out.push(issue('value', child.path, `expected a reference to ${rule.targetTypes.join(' or ')}, got ${got}${suffix}`));
    }
  }
  return out;
}

/** Issues of `resource` against one compiled clinic profile. */
export function checkProfile(profile: CompiledProfile, resource: JsonObject): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const rule of profile.rules) {
    for (const parent of locate(resource, rule.segments.slice(0, -1), profile)) {
      const children = childrenOf(parent, rule.segments, profile, resource);
      out.push(...countIssues(rule, parent, children.length, profile));
      for (const child of children) out.push(...valueIssues(rule, child, resource, profile));
    }
  }
  return out;
}
