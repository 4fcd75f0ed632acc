// The one issue shape every validation step produces: a strict subset of R4 OperationOutcome.issue
// (so it is assignable to OperationOutcomeIssue from fhir/r4).

export type IssueCode = 'structure' | 'value' | 'required' | 'invariant' | 'invalid';

export interface ValidationIssue {
  severity: 'error';
  code: IssueCode;
  diagnostics: string;
  expression: string[];
}

export function issue(code: IssueCode, path: string, message: string): ValidationIssue {
  return { severity: 'error', code, diagnostics: `${path}: ${message}`, expression: [path] };
}

const MAX_SHOWN = 40;

// Diagnostics echo at most a short scalar: never a whole body, never a long free-text value.
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}...` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

export function childPath(path: string, key: string): string {
  return `${path}.${key}`;
}

export function itemPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

// Turns a JSON pointer such as /name/0/given/1 into the FHIRPath-style Patient.name[0].given[1].
export function pointerToPath(root: string, pointer: string): string {
  let path = root;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path = /^\d+$/.test(token) ? itemPath(path, Number(token)) : childPath(path, token);
  }
  return path;
}
