import type { AuditEvent } from 'fhir/r4';
import { auditEvents } from '../helpers/audit';
import { adminCli } from '../helpers/cli';

/** Runs the admin CLI against the test server's database, as an operator would. */
export const cli = (...args: string[]) => adminCli(args);

/** The privileged-change events (type `security`) the narrowing columns select, oldest first. */
export function changeEvents(where: Record<string, string>): Promise<Array<AuditEvent & { id: string }>> {
  return auditEvents((q) => q.where({ type: 'security', ...where }));
}

/** The changed object's `old` and `new` state of an event, parsed (undefined where the event has none). */
export function statesOf(e: AuditEvent): { old?: Record<string, unknown>; new?: Record<string, unknown> } {
  const detail = e.entity?.[0]?.detail ?? [];
  const parse = (type: string) => {
    const v = detail.find((d) => d.type === type)?.valueString;
    return v === undefined ? undefined : JSON.parse(v) as Record<string, unknown>;
  };
  return { old: parse('old'), new: parse('new') };
}

/** Every leaf of a JSON value by its dotted path. */
export function leaves(v: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) for (const [p, y] of leaves(x, prefix ? `${prefix}.${k}` : k)) out.set(p, y);
  } else out.set(prefix, JSON.stringify(v));
  return out;
}

/** The dotted paths whose value differs between two JSON values (present in one only counts). */
export function changedPaths(a: unknown, b: unknown): string[] {
  const la = leaves(a);
  const lb = leaves(b);
  return [...new Set([...la.keys(), ...lb.keys()])].filter((k) => la.get(k) !== lb.get(k)).sort();
}
