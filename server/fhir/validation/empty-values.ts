// ele-1 for FHIR JSON: every element has a value or children, so "", {}, [] and lone ids are invalid;
// nulls are allowed only to keep a primitive array aligned with its `_x` twin.

import { childPath, issue, itemPath, type ValidationIssue } from './issues';
import { isObject, type JsonObject } from './json';

const ELE_1 = 'All FHIR elements must have a @value or children (ele-1)';

function twinOf(key: string): string {
  return key.startsWith('_') ? key.slice(1) : `_${key}`;
}

function checkArray(owner: JsonObject, key: string, items: unknown[], path: string, out: ValidationIssue[]): void {
  if (items.length === 0) {
    out.push(issue('invariant', path, `empty array; omit the element instead. ${ELE_1}`));
    return;
  }
  const twin = owner[twinOf(key)];
  if (Array.isArray(twin) && twin.length !== items.length && !key.startsWith('_')) {
    out.push(issue('structure', path, `${key} and ${twinOf(key)} must have the same length (${items.length} vs ${twin.length})`));
  }
  items.forEach((item, index) => {
    const at = itemPath(path, index);
    // A null with no twin is a type error the schema reports; here only the doubly-empty case.
    if (item === null && Array.isArray(twin) && (twin[index] === null || twin[index] === undefined)) {
      out.push(issue('invariant', at, `null with no ${twinOf(key)} counterpart. ${ELE_1}`));
    } else {
      checkValue(item, at, out);
    }
  });
}

function checkObject(node: JsonObject, path: string, out: ValidationIssue[], isResource: boolean): void {
  const keys = Object.keys(node);
  if (!isResource && keys.every((key) => key === 'id')) {
    out.push(issue('invariant', path, `${keys.length === 0 ? 'empty object' : 'element with only an id'}; omit it instead. ${ELE_1}`));
    return;
  }
  for (const key of keys) {
    // Contained resources are checked on their own, with their own root, by containment.ts.
    if (isResource && key === 'contained') continue;
    const value = node[key];
    const at = childPath(path, key);
    if (Array.isArray(value)) checkArray(node, key, value, at, out);
    else checkValue(value, at, out);
  }
}

function checkValue(value: unknown, path: string, out: ValidationIssue[]): void {
  if (value === '') out.push(issue('invariant', path, `empty string; omit the element instead. ${ELE_1}`));
  else if (isObject(value)) checkObject(value, path, out, typeof value.resourceType === 'string');
}

/** ele-1 and null-alignment problems anywhere in `resource` except inside `contained`. */
export function emptyValueIssues(resource: JsonObject, root: string): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  checkObject(resource, root, out, true);
  return out;
}
