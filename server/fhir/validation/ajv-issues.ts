// Turns ajv's errors into short, readable OperationOutcome issues with FHIRPath-style locations.

import type { ErrorObject } from 'ajv';
import { temporalProblem, temporalShape, type TemporalKind } from './datetime';
import { describeValue, issue, pointerToPath, type IssueCode, type ValidationIssue } from './issues';
import { isObject, valueAtPointer } from './json';
import { primitiveForPattern, RULES_KEYWORD } from './r4-schema';

const TEMPORAL_KINDS = new Set<string>(['date', 'dateTime', 'instant', 'time']);

const PATTERN_HINTS: Record<string, string> = {
  id: '1 to 64 characters from A-Z, a-z, 0-9, "-" and "."',
  code: 'no leading, trailing or repeated whitespace',
  string: 'at least one character',
  uri: 'no whitespace',
};

function isTemporal(kind: string | undefined): kind is TemporalKind {
  return kind !== undefined && TEMPORAL_KINDS.has(kind);
}

function temporalMessage(kind: TemporalKind, value: unknown): string {
  const problem = typeof value === 'string' ? temporalProblem(kind, value) : undefined;
  const expected = `expected a FHIR ${kind} (${temporalShape(kind)}), got ${describeValue(value)}`;
  return problem ? `${problem}; ${expected}` : expected;
}

function patternMessage(pattern: string, value: unknown): string {
  const primitive = primitiveForPattern(pattern);
  if (isTemporal(primitive)) return temporalMessage(primitive, value);
  const hint = primitive?.split(' or ').map((name) => PATTERN_HINTS[name]).find(Boolean);
  const expected = primitive ? `a FHIR ${primitive} (${hint ?? `matching ${pattern}`})` : `a value matching ${pattern}`;
  return `expected ${expected}, got ${describeValue(value)}`;
}

// FHIR JSON pads a primitive array with null where only its `_x` twin carries data, and vice versa.
function isAlignedNull(error: ErrorObject, data: unknown): boolean {
  if (error.keyword !== 'type' || valueAtPointer(data, error.instancePath) !== null) return false;
  const tokens = error.instancePath.split('/');
  const [key, index] = tokens.slice(-2);
  const parent = valueAtPointer(data, tokens.slice(0, -2).join('/'));
  if (!isObject(parent) || !/^\d+$/.test(index)) return false;
  const twin = parent[key.startsWith('_') ? key.slice(1) : `_${key}`];
  return Array.isArray(twin) && twin[Number(index)] !== null && twin[Number(index)] !== undefined;
}

/** Keeps, for each oneOf/anyOf, only the errors of its closest branch (fewest errors), and drops the summary. */
export function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  let kept = [...errors];
  for (const alternative of errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')) {
    const prefix = `${alternative.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of kept) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = e.schemaPath.slice(prefix.length).split('/')[0];
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const best = [...branches.values()].sort((a, b) => a.length - b.length)[0] ?? [];
    kept = kept.filter((e) => e !== alternative && (!e.schemaPath.startsWith(prefix) || best.includes(e)));
  }
  return kept;
}

function mapError(error: ErrorObject, root: string, data: unknown): ValidationIssue | undefined {
  const path = pointerToPath(root, error.instancePath);
  const value = (): unknown => valueAtPointer(data, error.instancePath);
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case 'additionalProperties':
      return issue('structure', `${path}.${String(params.additionalProperty)}`, `unknown element '${String(params.additionalProperty)}'`);
    case 'required':
      return issue('required', `${path}.${String(params.missingProperty)}`, 'required element is missing (min 1)');
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.join('|') : '';
      return issue('value', path, `expected one of ${allowed}, got ${describeValue(value())}`);
    }
    case 'const':
      return issue('value', path, `expected ${describeValue(params.allowedValue)}, got ${describeValue(value())}`);
    case 'type':
      return issue('structure', path, `expected a JSON ${String(params.type)}, got ${describeValue(value())}`);
    case 'minimum':
    case 'maximum':
      return issue('value', path, `expected a number ${String(params.comparison)} ${String(params.limit)}, got ${describeValue(value())}`);
    case 'pattern':
      return issue('value', path, patternMessage(String(params.pattern), value()));
    case 'format': {
      const kind = String(params.format).replace(/^fhir-/, '');
      return issue('value', path, isTemporal(kind) ? temporalMessage(kind, value()) : `not a valid ${kind}`);
    }
    case RULES_KEYWORD:
      return issue(params.code as IssueCode, path, error.message ?? 'rule violated');
    default:
      return issue('structure', path, error.message ?? `fails ${error.keyword}`);
  }
}

/** Readable issues for ajv's errors on `data`, whose root element is called `root` (e.g. Patient). */
export function ajvIssues(errors: readonly ErrorObject[], root: string, data: unknown): ValidationIssue[] {
  // An empty string fails its pattern too; empty-values.ts reports it once, as ele-1.
  const kept = collapseAlternatives(errors).filter(
    (e) => !isAlignedNull(e, data) && !(e.keyword === 'pattern' && valueAtPointer(data, e.instancePath) === ''),
  );
  // A wrong JSON type makes the pattern moot; a malformed date fails its pattern and its format,
  // and the pattern message already says why.
  const typeAt = new Set(kept.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const patternAt = new Set(kept.filter((e) => e.keyword === 'pattern').map((e) => e.instancePath));
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const error of kept) {
    if (['pattern', 'format', 'enum'].includes(error.keyword) && typeAt.has(error.instancePath)) continue;
    if (error.keyword === 'format' && patternAt.has(error.instancePath)) continue;
    const mapped = mapError(error, root, data);
    if (!mapped || seen.has(mapped.diagnostics)) continue;
    seen.add(mapped.diagnostics);
    issues.push(mapped);
  }
  return issues;
}
