// Contained resources: each validated by its own type (one level deep: dom-2 forbids nesting),
// plus the rules that need the container: dom-2..dom-5 and ref-1.

import { childPath, describeValue, issue, itemPath, type ValidationIssue } from './issues';
import { arrayAt, hasElement, isObject, objectAt, stringAt, type JsonObject } from './json';
import { isResourceType } from './r4-schema';
import { findContained } from './references';

export type ResourceValidator = (resource: JsonObject, type: string, root: string) => ValidationIssue[];

interface LocalReference {
  path: string;
  value: string;
  inContained: boolean;
}

// Every string starting with '#' (references, canonicals, uris), and where it sits.
function localReferences(node: unknown, path: string, inContained: boolean, out: LocalReference[]): LocalReference[] {
  if (typeof node === 'string' && node.startsWith('#')) out.push({ path, value: node, inContained });
  if (Array.isArray(node)) node.forEach((item, i) => localReferences(item, itemPath(path, i), inContained, out));
  if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) localReferences(v, childPath(path, k), inContained || k === 'contained', out);
  }
  return out;
}

function containedRules(item: JsonObject, at: string, references: readonly LocalReference[]): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (item.contained !== undefined) {
    out.push(issue('invariant', childPath(at, 'contained'), 'If the resource is contained in another resource, it SHALL NOT contain nested Resources (dom-2)'));
  }
  const meta = objectAt(item, 'meta');
  if (meta && (hasElement(meta, 'versionId') || hasElement(meta, 'lastUpdated'))) {
    out.push(issue('invariant', childPath(at, 'meta'), 'If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a meta.lastUpdated (dom-4)'));
  }
  if (meta && hasElement(meta, 'security')) {
    out.push(issue('invariant', childPath(at, 'meta'), 'If a resource is contained in another resource, it SHALL NOT have a security label (dom-5)'));
  }
  const id = stringAt(item, 'id');
  const referredTo = id !== undefined && references.some((r) => r.value === `#${id}`);
  const refersToContainer = references.some((r) => r.value === '#' && r.path.startsWith(`${at}.`));
  if (!referredTo && !refersToContainer) {
    out.push(issue('invariant', at, 'If the resource is contained in another resource, it SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource (dom-3)'));
  }
  return out;
}

/** Issues of `container`'s contained resources, with paths such as Patient.contained[0].name. */
export function containedIssues(container: JsonObject, root: string, validateAs: ResourceValidator): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const references = localReferences(container, root, false, []);
  for (const ref of references) {
    if (!ref.path.endsWith('.reference') || (ref.value === '#' && ref.inContained)) continue;
    if (!findContained(container, ref.value.slice(1))) {
      out.push(issue('invariant', ref.path, `SHALL have a contained resource if a local reference is provided (ref-1); no contained resource has id ${describeValue(ref.value.slice(1))}`));
    }
  }
  arrayAt(container, 'contained').forEach((item, index) => {
    const at = itemPath(childPath(root, 'contained'), index);
    const type = isObject(item) ? stringAt(item, 'resourceType') : undefined;
    if (!isObject(item) || type === undefined || !isResourceType(type)) {
      out.push(issue('invalid', at, `expected a resource with a known resourceType, got ${describeValue(isObject(item) ? item.resourceType : item)}`));
      return;
    }
    out.push(...containedRules(item, at, references), ...validateAs(item, type, at));
  });
  return out;
}
