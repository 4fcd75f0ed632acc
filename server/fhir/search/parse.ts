import { badRequest } from '../../http/errors';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';
import { isLinkKey, parseLink } from './chain';
import type { Criterion, DatePrefix, Modifier } from './criterion';
import { type IncludeSpec, parseIncludeSpec } from './include-spec';
import { partialDateRange } from './values';

export type { Criterion, DatePrefix, Modifier } from './criterion';

export interface ParsedSearch {
  criteria: Criterion[];
  count: number;
  offset: number;
  sort: Array<{ name: string; desc: boolean }>;
  total: 'none' | 'accurate';
  summaryCount: boolean;
  elements?: string[];
  includes: IncludeSpec[];
  /** Unknown parameters ignored under lenient handling, reported back to the client. */
  ignored: string[];
  /** Every parameter except paging: what a next link must repeat. */
  canonical: Array<[string, string]>;
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
const CONTROL = new Set(['_count', '_sort', '_total', '_summary', '_elements', '_page', '_format', '_pretty', '_include', '_revinclude']);
const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb']);

/** Splits on commas not escaped by a backslash, and unescapes `\,` `\|` `\$` `\\`. */
export function splitValues(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '\\' && i + 1 < raw.length) { cur += raw[++i]; continue; }
    if (ch === ',') { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out;
}

function parseDates(name: string, values: string[]): Criterion['dates'] {
  return values.map((v) => {
    const prefix = (PREFIXES.has(v.slice(0, 2)) ? v.slice(0, 2) : 'eq') as DatePrefix;
    const body = PREFIXES.has(v.slice(0, 2)) ? v.slice(2) : v;
    const range = partialDateRange(body);
    if (!range) throw badRequest(`Search parameter ${name}: '${body.slice(0, 40)}' is not a valid date (expected YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with zone)`);
    return { prefix, lo: range[0], hi: range[1] };
  });
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  }
  return Number(raw);
}

/**
 * A parameter of `def` named `name` with `modifier`, as a criterion; undefined when `def` has no such
 * parameter. Malformed values and modifiers are a 400.
 */
export function plainCriterion(def: ResourceDefinition, name: string, modifier: string | undefined, values: string[]): Criterion | undefined {
  if (values.some((v) => v === '') && modifier !== 'missing') throw badRequest(`Search parameter ${name.slice(0, 60)} has an empty value`);
  if (name === '_id') {
    if (modifier) throw badRequest('_id takes no modifier');
    return { param: { name: '_id', type: 'token' }, values };
  }
  if (name === '_lastUpdated') {
    if (modifier) throw badRequest('_lastUpdated takes no modifier');
    return { param: { name: '_lastUpdated', type: 'date' }, values, dates: parseDates(name, values) };
  }
  const param = def.search.find((p) => p.name === name);
  return param ? criterion(param, modifier, values) : undefined;
}

/**
 * Turns a query into typed criteria; malformed values are a 400. Unknown or unsupported parameters
 * are a 400 when `strict` (the default a client gets), otherwise ignored and reported back.
 */
export function parseSearch(def: ResourceDefinition, query: Array<[string, string]>, strict: boolean): ParsedSearch {
  const out: ParsedSearch = { criteria: [], count: DEFAULT_COUNT, offset: 0, sort: [], total: 'none', summaryCount: false, includes: [], ignored: [], canonical: [] };
  for (const [key, raw] of query) {
    if (key !== '_page') out.canonical.push([key, raw]);
    if (isLinkKey(key)) {
      const link = parseLink(def, key, splitValues(raw), plainCriterion);
      if ('unsupported' in link) {
        if (strict) throw badRequest(link.unsupported);
        out.ignored.push(key.slice(0, 60));
      } else out.criteria.push(link.criterion);
      continue;
    }
    const [name, modifier, ...rest] = key.split(':');
    if (rest.length) throw badRequest(`Search parameter ${key.slice(0, 60)} has more than one modifier`);
    if (CONTROL.has(name)) {
      if (name === '_count') {
        out.count = parseInteger('_count', raw, 0, MAX_COUNT);
        // No page to show: the count alone, and no next link a client would follow forever.
        if (out.count === 0) out.summaryCount = true;
      } else if (name === '_total') {
        if (raw !== 'none' && raw !== 'accurate' && raw !== 'estimate') throw badRequest('_total must be none, estimate or accurate');
        out.total = raw === 'accurate' ? 'accurate' : 'none';
      } else if (name === '_summary') {
        if (raw === 'count') out.summaryCount = true;
        else if (raw !== 'false') throw badRequest('_summary supports count and false');
      } else if (name === '_sort') out.sort = parseSort(def, raw);
      else if (name === '_elements') out.elements = raw.split(',').map((e) => e.trim()).filter(Boolean);
      else if (name === '_include' || name === '_revinclude') {
        const spec = modifier ? null : parseIncludeSpec(def, name === '_revinclude', raw);
        if (spec) out.includes.push(spec);
        else if (strict) throw badRequest(`${key.slice(0, 30)}=${raw.slice(0, 80)} is not supported on ${def.type} (see the CapabilityStatement's searchInclude and searchRevInclude)`);
        else out.ignored.push(`${key.slice(0, 30)}=${raw.slice(0, 80)}`);
      }
      continue;
    }
    const c = plainCriterion(def, name, modifier, splitValues(raw));
    if (!c) {
      if (strict) throw badRequest(`Unknown search parameter ${name.slice(0, 60)} for ${def.type} (see the CapabilityStatement; Prefer: handling=lenient ignores it instead)`);
      out.ignored.push(name.slice(0, 60));
      continue;
    }
    out.criteria.push(c);
  }
  return out;
}

function criterion(param: SearchParamDef, modifier: string | undefined, values: string[]): Criterion {
  const allowed: Record<string, string[]> = {
    string: ['exact', 'contains', 'missing'],
    token: ['not', 'missing'],
    date: ['missing'],
    reference: ['missing'],
  };
  if (modifier === 'missing') {
    if (values.length !== 1 || (values[0] !== 'true' && values[0] !== 'false')) throw badRequest(`${param.name}:missing must be true or false`);
    return { param, modifier: 'missing', values };
  }
  if (modifier && param.type === 'reference' && /^[A-Z][A-Za-z]+$/.test(modifier)) {
    return { param, modifier: 'type', typeModifier: modifier, values };
  }
  if (modifier && !allowed[param.type].includes(modifier)) {
    throw badRequest(`Modifier :${modifier.slice(0, 30)} is not supported on ${param.type} parameter ${param.name}`);
  }
  const c: Criterion = { param, modifier: modifier as Modifier | undefined, values };
  if (param.type === 'date') c.dates = parseDates(param.name, values);
  return c;
}

function parseSort(def: ResourceDefinition, raw: string): ParsedSearch['sort'] {
  return raw.split(',').map((s) => {
    const desc = s.startsWith('-');
    const name = desc ? s.slice(1) : s;
    const p = def.search.find((x) => x.name === name);
    if (name !== '_lastUpdated' && name !== '_id' && (!p || p.type === 'token' || p.type === 'reference')) {
      throw badRequest(`Cannot sort ${def.type} by ${name.slice(0, 60)}: sortable are _id, _lastUpdated and its date and string parameters`);
    }
    return { name, desc };
  });
}
