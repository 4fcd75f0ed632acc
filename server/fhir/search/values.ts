/**
 * Walks a resource along a simple path (`name.given`, `telecom[system=phone]`), flattening arrays.
 * Deliberately tiny: search parameter paths in resources/*.ts only use these forms.
 */
interface Step { name: string; filterKey?: string; filterValue?: string }
// Paths come from the resource definitions (a fixed set): parse each once, it runs on every write and audit.
const parsedPaths = new Map<string, Step[]>();

function stepsOf(path: string): Step[] {
  let steps = parsedPaths.get(path);
  if (!steps) {
    steps = path.split('.').map((step) => {
      const m = /^([A-Za-z][A-Za-z0-9]*)(?:\[([A-Za-z]+)=([^\]]+)\])?$/.exec(step);
      if (!m) throw new Error(`bad search path step ${step}`);
      return { name: m[1], filterKey: m[2], filterValue: m[3] };
    });
    parsedPaths.set(path, steps);
  }
  return steps;
}

export function valuesAt(resource: unknown, path: string): unknown[] {
  let current: unknown[] = [resource];
  for (const { name, filterKey, filterValue } of stepsOf(path)) {
    const next: unknown[] = [];
    for (const node of current) {
      if (!node || typeof node !== 'object') continue;
      const v = (node as Record<string, unknown>)[name];
      for (const item of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
        if (filterKey && (!item || typeof item !== 'object' || (item as Record<string, unknown>)[filterKey] !== filterValue)) continue;
        next.push(item);
      }
    }
    current = next;
  }
  return current;
}

/** Lower case without accents: how string search compares (FHIR: case and accent insensitive). */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** String parameter values of one element: strings, or the text parts of HumanName / Address. */
export function stringsOf(v: unknown): string[] {
  if (str(v)) return [v];
  if (!isObj(v)) return [];
  const out: string[] = [];
  for (const key of ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country']) {
    const x = v[key];
    for (const s of Array.isArray(x) ? x : [x]) if (str(s)) out.push(s);
  }
  return out;
}

export interface Token { system?: string; code: string }

/** Token values: Coding, CodeableConcept, Identifier, ContactPoint, code, boolean. */
export function tokensOf(v: unknown, implicitSystem?: string): Token[] {
  if (typeof v === 'boolean') return [{ code: String(v) }];
  if (str(v)) return [{ system: implicitSystem, code: v }];
  if (!isObj(v)) return [];
  if (Array.isArray(v.coding)) return v.coding.flatMap((c) => tokensOf(c));
  if (str(v.code)) return [{ system: str(v.system) ? v.system : undefined, code: v.code }];
  if (str(v.value)) return [{ system: str(v.system) ? v.system : undefined, code: v.value }];
  return [];
}

/** Stored token entries: `system|code` (system may be empty), `system|` and the bare `code`. */
export function tokenEntries(tokens: Token[]): string[] {
  const out = new Set<string>();
  for (const t of tokens) {
    out.add(`${t.system ?? ''}|${t.code}`);
    if (t.system) out.add(`${t.system}|`);
    out.add(t.code);
  }
  return [...out];
}

/** Reference values: `Type/id` (and the bare id) of local references. */
export function referencesOf(v: unknown, targets?: string[]): string[] {
  if (!isObj(v)) return [];
  const out: string[] = [];
  const ref = v.reference;
  if (str(ref)) {
    const m = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/.exec(ref);
    if (m && (!targets || targets.includes(m[1]))) out.push(`${m[1]}/${m[2]}`, m[2]);
    else if (!m && !targets) out.push(ref);
  }
  // A logical reference (identifier only) is findable by its identifier value.
  const ident = isObj(v.identifier) ? v.identifier.value : undefined;
  if (!targets && str(ident)) out.push(ident);
  return out;
}

/** [lo, hi) instants of a date, dateTime, instant or Period; partial dates cover their whole span. */
export function dateRange(v: unknown): [Date, Date] | null {
  if (str(v)) return partialDateRange(v);
  if (isObj(v) && (str(v.start) || str(v.end))) {
    const lo = str(v.start) ? partialDateRange(v.start)?.[0] : new Date(-8.64e15);
    const hi = str(v.end) ? partialDateRange(v.end)?.[1] : new Date(8.64e15);
    return lo && hi ? [lo, hi] : null;
  }
  return null;
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** A FHIR date/dateTime (or search value) as the [lo, hi) span it denotes, in UTC when no zone is given. */
export function partialDateRange(s: string): [Date, Date] | null {
  const m = DATE_RE.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac, tz] = m;
  const zone = tz ?? 'Z';
  if (h !== undefined) {
    const base = `${y}-${mo}-${d}T${h}:${mi}:${sec ?? '00'}${frac ?? ''}${zone === 'Z' ? 'Z' : zone}`;
    const lo = new Date(base);
    if (Number.isNaN(lo.getTime())) return null;
    const span = sec === undefined ? 60_000 : frac ? 1 : 1000;
    return [lo, new Date(lo.getTime() + span)];
  }
  const year = Number(y);
  if (mo === undefined) return [new Date(Date.UTC(year, 0, 1)), new Date(Date.UTC(year + 1, 0, 1))];
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) return null;
  if (d === undefined) return [new Date(Date.UTC(year, month, 1)), new Date(Date.UTC(year, month + 1, 1))];
  const day = Number(d);
  const lo = new Date(Date.UTC(year, month, day));
  if (lo.getUTCMonth() !== month || lo.getUTCDate() !== day) return null;
  return [lo, new Date(Date.UTC(year, month, day + 1))];
}
