import type { FhirMethod } from './request';

/** A FHIR operation served beside the REST interactions (server/care implements them). */
export interface OperationRoute {
  method: FhirMethod;
  /** `instance`: `[base]/Patient/{id}/$name`; `system`: `[base]/$name`. */
  level: 'instance' | 'system';
  name: string;
}

/** Every operation this server serves; the edge checks (hostile-input.ts) let exactly these through. */
export const OPERATION_ROUTES: readonly OperationRoute[] = [
  { method: 'POST', level: 'instance', name: '$assign' },
  { method: 'POST', level: 'instance', name: '$unassign' },
  { method: 'POST', level: 'instance', name: '$share' },
  { method: 'POST', level: 'instance', name: '$break-glass' },
  { method: 'GET', level: 'instance', name: '$break-glass' },
  { method: 'POST', level: 'instance', name: '$break-glass-revoke' },
  { method: 'POST', level: 'instance', name: '$break-glass-review' },
  { method: 'POST', level: 'system', name: '$set-access-policy' },
];

/** The operation a method and decoded path segments name (only Patient has instance operations). */
export function matchOperation(method: FhirMethod, segments: readonly string[]): OperationRoute | undefined {
  const name = segments.length === 3 && segments[0] === 'Patient' && segments[1] !== '' ? segments[2] : segments.length === 1 ? segments[0] : undefined;
  const level = segments.length === 3 ? 'instance' : 'system';
  return OPERATION_ROUTES.find((o) => o.method === method && o.level === level && o.name === name);
}

/** The operations of one level, once each, as the CapabilityStatement names them. */
export function operationsOf(level: OperationRoute['level']): Array<{ name: string; definition: string }> {
  const names = [...new Set(OPERATION_ROUTES.filter((o) => o.level === level).map((o) => o.name.slice(1)))];
  return names.map((name) => ({ name, definition: `https://fhir.clinic.example/OperationDefinition/${name}` }));
}
