import { badRequest, unprocessable } from '../http/errors';
import { parseJsonBody } from '../fhir/body';
import type { FhirRequest } from '../fhir/request';

interface ParameterPart { name?: unknown; [value: string]: unknown }

/** The named values of a FHIR Parameters body; a malformed body is a 400, a missing or bad value a 422 naming it. */
export class Parameters {
  private constructor(private readonly parts: ParameterPart[]) {}

  static of(req: FhirRequest): Parameters {
    const body = parseJsonBody(req.headers['content-type'], req.body, 'a Parameters resource') as { resourceType?: unknown; parameter?: unknown };
    if (!body || typeof body !== 'object' || body.resourceType !== 'Parameters') throw badRequest('The body must be a Parameters resource', ['Parameters']);
    const parts = body.parameter ?? [];
    if (!Array.isArray(parts) || parts.some((p) => !p || typeof p !== 'object' || typeof (p as ParameterPart).name !== 'string')) {
      throw badRequest('Parameters.parameter must be a list of named parameters', ['Parameters.parameter']);
    }
    return new Parameters(parts as ParameterPart[]);
  }

  private value(name: string): unknown {
    const found = this.parts.filter((p) => p.name === name);
    if (found.length > 1) throw unprocessable(`Parameter '${name}' is given more than once`, [name]);
    const part = found[0];
    if (!part) return undefined;
    const key = Object.keys(part).find((k) => k.startsWith('value'));
    if (!key) throw unprocessable(`Parameter '${name}' has no value`, [name]);
    const v = part[key];
    if (key === 'valueReference') return (v as { reference?: unknown } | null)?.reference;
    return v;
  }

  /** A text value (valueString, valueCode, valueId...), trimmed; undefined when absent and optional. */
  text(name: string, opts: { required: true }): string;
  text(name: string, opts?: { required?: boolean }): string | undefined;
  text(name: string, opts: { required?: boolean } = {}): string | undefined {
    const v = this.value(name);
    if (v === undefined) {
      if (opts.required) throw unprocessable(`Parameter '${name}' is required`, [name]);
      return undefined;
    }
    if (typeof v !== 'string') throw unprocessable(`Parameter '${name}' must be a text value`, [name]);
    return v.trim();
  }

  /** An id, given as an id, a string or a reference `Type/id` (the type, when named, must be `type`). */
  id(name: string, type?: string): string {
    const raw = this.text(name, { required: true });
    const m = /^(?:([A-Za-z]+)\/)?([0-9a-fA-F-]{36})$/.exec(raw);
    if (!m || (m[1] && type && m[1] !== type)) throw unprocessable(`Parameter '${name}' must be ${type ? `a ${type} reference or ` : ''}an id`, [name]);
    return m[2].toLowerCase();
  }

  integer(name: string): number | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw unprocessable(`Parameter '${name}' must be an integer`, [name]);
    return v;
  }

  /** An instant (valueDateTime or valueInstant with a time and zone). */
  instant(name: string): Date | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    const d = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v) ? new Date(v) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw unprocessable(`Parameter '${name}' must be a date or an instant`, [name]);
    return d;
  }
}

type OutValue = string | number | boolean | null | undefined | OutPart[];
export interface OutPart { name: string; value: OutValue; as?: 'valueString' | 'valueCode' | 'valueId' | 'valueInstant' | 'valueReference' }

function part(p: OutPart): Record<string, unknown> | undefined {
  if (p.value === undefined || p.value === null) return undefined;
  if (Array.isArray(p.value)) return { name: p.name, part: p.value.map(part).filter(Boolean) };
  if (typeof p.value === 'number') return { name: p.name, valueInteger: p.value };
  if (typeof p.value === 'boolean') return { name: p.name, valueBoolean: p.value };
  if (p.as === 'valueReference') return { name: p.name, valueReference: { reference: p.value } };
  return { name: p.name, [p.as ?? 'valueString']: p.value };
}

/** A Parameters resource as JSON text; absent values are left out. */
export function parametersText(parts: OutPart[]): string {
  return JSON.stringify({ resourceType: 'Parameters', parameter: parts.map(part).filter(Boolean) });
}
