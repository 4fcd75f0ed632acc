import type { Knex } from 'knex';
import { searchColumnName } from '../../../db/resource-table';
import { INDEXED_TYPES, searchTable } from '../../../db/search-index';
import { notSupported } from '../../http/errors';
import { isUuid } from '../../http/ids';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';
import { SEP } from './extract';
import type { Criterion, DatePrefix, Link } from './criterion';
import type { ParsedSearch } from './parse';
import { normalizeString } from './values';

/** A condition; `idOnly` when it reads nothing of the row but its id (search index lookups, _id). */
type Where = { sql: string; bindings: unknown[]; idOnly?: boolean };
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** A date comparison of a stored [lo, hi) span with a searched [lo, hi) span, per FHIR prefixes. */
function dateClause(lo: string, hi: string, d: { prefix: DatePrefix; lo: Date; hi: Date }): Where {
  switch (d.prefix) {
    case 'eq': return { sql: `(${lo} >= ? and ${hi} <= ?)`, bindings: [d.lo, d.hi] };
    case 'ne': return { sql: `not (${lo} >= ? and ${hi} <= ?)`, bindings: [d.lo, d.hi] };
    case 'gt': return { sql: `${hi} > ?`, bindings: [d.hi] };
    case 'lt': return { sql: `${lo} < ?`, bindings: [d.lo] };
    case 'ge': return { sql: `${hi} > ?`, bindings: [d.lo] };
    case 'le': return { sql: `${lo} < ?`, bindings: [d.hi] };
    case 'sa': return { sql: `${lo} >= ?`, bindings: [d.hi] };
    case 'eb': return { sql: `${hi} <= ?`, bindings: [d.lo] };
  }
}

/**
 * The same comparison for an instant column, whose span is [col, col + 1 ms): `col + 1ms op X` is
 * written `col op X - 1ms`, so the column stays bare and its index (and partition pruning) applies.
 */
function instantClause(col: string, d: { prefix: DatePrefix; lo: Date; hi: Date }): Where {
  const before = (x: Date) => new Date(x.getTime() - 1);
  switch (d.prefix) {
    case 'eq': return { sql: `(${col} >= ? and ${col} <= ?)`, bindings: [d.lo, before(d.hi)] };
    case 'ne': return { sql: `not (${col} >= ? and ${col} <= ?)`, bindings: [d.lo, before(d.hi)] };
    case 'gt': return { sql: `${col} > ?`, bindings: [before(d.hi)] };
    case 'lt': return { sql: `${col} < ?`, bindings: [d.lo] };
    case 'ge': return { sql: `${col} > ?`, bindings: [before(d.lo)] };
    case 'le': return { sql: `${col} < ?`, bindings: [d.hi] };
    case 'sa': return { sql: `${col} >= ?`, bindings: [d.hi] };
    case 'eb': return { sql: `${col} <= ?`, bindings: [before(d.lo)] };
  }
}

function tokenEntry(v: string): string {
  return v; // stored entries are `system|code`, `system|` and bare `code`: the search value matches one as is
}

function referenceEntry(c: Criterion, v: string, fhirBase: string): string {
  const local = v.startsWith(`${fhirBase}/`) ? v.slice(fhirBase.length + 1) : v;
  if (c.typeModifier) return `${c.typeModifier}/${local}`;
  const targets = 'targets' in c.param ? c.param.targets : undefined;
  if (!local.includes('/') && targets?.length === 1) return `${targets[0]}/${local}`;
  return local;
}

/** Whether `p`'s values are in the type's search index table (db/search-index.ts). */
function inSearchIndex(def: ResourceDefinition, p: SearchParamDef): boolean {
  return !def.rowStore && INDEXED_TYPES.has(p.type) && (!def.indexedParams || def.indexedParams.includes(p.name));
}

/**
 * Rows having a value of `param` that satisfies `cond`, through the search index (btree, usable under
 * RLS). On a table partitioned by last_updated, `window` (the search's own last_updated conditions)
 * is repeated inside: index rows carry their row's last_updated, so the range is read from the
 * index instead of every entry of the value being matched and then dropped.
 */
function indexed(def: ResourceDefinition, param: string, cond: Where, negate = false, window: Where[] = [], alias = def.table): Where {
  // With the partition key in the match, each row is looked up in its own partition only.
  const key = def.partitionedBy ? ['id', def.partitionedBy] : ['id'];
  const outer = key.length > 1 ? `(${key.map((k) => `${alias}.${k}`).join(', ')})` : `${alias}.id`;
  const within = negate ? [] : window;
  return {
    sql: `${outer} ${negate ? 'not in' : 'in'} (select ${key.join(', ')} from ${searchTable(def.table)} where param = ? and ${cond.sql}${within.map((w) => ` and ${w.sql}`).join('')})`,
    bindings: [param, ...cond.bindings, ...within.flatMap((w) => w.bindings)],
    idOnly: key.length === 1,
  };
}

/**
 * Rows found by the btree lookups of a typed-column parameter (SearchParamDef.lookups), each within
 * the search's last_updated window: `(id, last_updated) in (one lookup union all the next)`.
 */
function lookupClause(p: SearchParamDef, entries: Entries, window: Where[], alias: string, top?: number): Where {
  const parts = (p.lookups ?? []).map((l) => {
    const cast = l.uuid ? 'uuid' : 'text';
    let match: Where;
    if (Array.isArray(entries)) {
      let values = l.prefix ? entries.filter((e) => e.startsWith(l.prefix as string)).map((e) => e.slice((l.prefix as string).length)) : entries;
      if (l.uuid) values = values.filter(isUuid);
      // One value as an equality: its index is then read in last_updated order, and a page stops after its rows.
      match = values.length === 1 ? { sql: `?::${cast}`, bindings: [values[0]] } : { sql: `any(?::${cast}[])`, bindings: [values] };
    } else {
      // Entries computed in SQL (a chain): the same prefix stripping, there; they name rows by id, so uuids cast.
      const strip = l.prefix ? { sql: 'substr(e, ?)', where: ' where starts_with(e, ?)', before: [l.prefix.length + 1], after: [l.prefix] } : { sql: 'e', where: '', before: [], after: [] };
      match = { sql: `any(array(select ${strip.sql}::${cast} from unnest(${entries.sql}) e${strip.where}))`, bindings: [...strip.before, ...entries.bindings, ...strip.after] };
    }
    const sql = `select id, last_updated from ${l.table} where ${l.column} = ${match.sql}${window.map((w) => ` and ${w.sql}`).join('')}`;
    const bindings = [...match.bindings, ...window.flatMap((w) => w.bindings)];
    // Only the newest `top` of each lookup: the page's rows are among them (each in the page's order).
    return top === undefined ? { sql, bindings } : { sql: `(${sql} order by last_updated desc, id asc limit ?)`, bindings: [...bindings, top] };
  });
  return { sql: `(${alias}.id, ${alias}.last_updated) in (${parts.map((x) => x.sql).join(' union all ')})`, bindings: parts.flatMap((x) => x.bindings) };
}

/** The column (or, for typed-column types, the expression) holding a token or reference parameter's entries. */
// Qualified by the row's alias: a chain's subquery nests one table's conditions inside another's.
const entriesOf = (p: SearchParamDef, alias: string) => (p.expr ? `(${p.expr.replace(/\{t\}/g, alias)})` : `${alias}.${searchColumnName(p.name)}`);

/** Reference entries to match: values (`Type/id` or as stored), or an SQL expression of a text[] (a chain's subquery). */
type Entries = string[] | Where;

/** Rows of `def` whose reference parameter `param` names one of `entries`. */
export function referenceClause(def: ResourceDefinition, p: SearchParamDef, entries: Entries, window: Where[] = [], alias = def.table, lookupTop?: number): Where {
  if (p.lookups) return lookupClause(p, entries, window, alias, lookupTop);
  const set: Where = Array.isArray(entries) ? { sql: '?::text[]', bindings: [entries] } : { sql: `(${entries.sql})`, bindings: entries.bindings };
  if (inSearchIndex(def, p)) return indexed(def, p.name, { sql: `value = any(${set.sql})`, bindings: set.bindings }, false, window, alias);
  return { sql: `${entriesOf(p, alias)} && ${set.sql}`, bindings: set.bindings };
}

// Prefix ranges compare bytes ("C" collation): U+10FFFF sorts after every character a value can continue with.
const prefixRange = (v: string): Where => ({ sql: '(value >= ? and value < ? and starts_with(value, ?))', bindings: [v, `${v}\u{10FFFF}`, v] });

const onLastUpdated = (p: Criterion['param']) => p.name === '_lastUpdated' || ('column' in p && p.column === 'last_updated');

/** A last_updated criterion (`_lastUpdated`, or a date parameter stored there) on column `col`. */
function lastUpdatedClause(col: string, c: Criterion): Where {
  const parts = (c.dates ?? []).map((d) => instantClause(col, d));
  return { sql: `(${parts.map((x) => x.sql).join(' or ')})`, bindings: parts.flatMap((x) => x.bindings) };
}

/** `lookupTop`: a reference found by btree lookups takes only that many of each lookup's newest rows (pagedLookupSearch). */
function clause(def: ResourceDefinition, c: Criterion, fhirBase: string, window: Where[], alias = def.table, lookupTop?: number): Where {
  const p = c.param;
  if (p.name === '_id') {
    const ids = c.values.filter(isUuid);
    return ids.length ? { sql: `${alias}.id = any(?::uuid[])`, bindings: [ids], idOnly: true } : { sql: 'false', bindings: [], idOnly: true };
  }
  if (c.link) return linkClause(def, c, c.link, fhirBase, window, alias);
  if (onLastUpdated(p)) return lastUpdatedClause(`${alias}.last_updated`, c);
  const col = 'paths' in p ? entriesOf(p, alias) : `${alias}.${searchColumnName(p.name)}`;
  if (c.modifier === 'missing' && 'paths' in p && (p.expr || p.lookups)) throw notSupported(`:missing is not supported on ${def.type}.${p.name}`);
  if (c.modifier === 'missing') {
    const target = p.type === 'date' ? `${col}_lo` : col;
    return { sql: `${target} is ${c.values[0] === 'true' ? '' : 'not '}null`, bindings: [] };
  }
  const useIndex = 'paths' in p && inSearchIndex(def, p);
  switch (p.type) {
    case 'string': {
      if (c.modifier === 'exact') {
        const exact: Where = { sql: `${col}_exact && ?::text[]`, bindings: [c.values] };
        if (!useIndex) return exact;
        // An exact value is also an equal normalised one: the search index finds the candidates, the exact column decides.
        const candidates = indexed(def, p.name, { sql: 'value = any(?::text[])', bindings: [c.values.map(normalizeString)] }, false, window, alias);
        return { sql: `(${candidates.sql} and ${exact.sql})`, bindings: [...candidates.bindings, ...exact.bindings] };
      }
      if (c.modifier !== 'contains' && useIndex) {
        const ranges = c.values.map((v) => prefixRange(normalizeString(v)));
        return indexed(def, p.name, { sql: `(${ranges.map((r) => r.sql).join(' or ')})`, bindings: ranges.flatMap((r) => r.bindings) }, false, window, alias);
      }
      const parts = c.values.map((v) => c.modifier === 'contains'
        ? `%${likeEscape(normalizeString(v))}%`
        : `%${SEP}${likeEscape(normalizeString(v))}%`);
      return { sql: `(${parts.map(() => `${col} like ?`).join(' or ')})`, bindings: parts };
    }
    case 'token': {
      const entries = c.values.map(tokenEntry);
      if (useIndex) return indexed(def, p.name, { sql: 'value = any(?::text[])', bindings: [entries] }, c.modifier === 'not', window, alias);
      if (c.modifier === 'not') return { sql: `not (coalesce(${col}, '{}') && ?::text[])`, bindings: [entries] };
      return { sql: `${col} && ?::text[]`, bindings: [entries] };
    }
    case 'reference':
      return referenceClause(def, p as SearchParamDef, c.values.map((v) => referenceEntry(c, v, fhirBase)), window, alias, lookupTop);
    case 'date': {
      const parts = (c.dates ?? []).map((d) => dateClause(`${col}_lo`, `${col}_hi`, d));
      return { sql: `(${parts.map((x) => x.sql).join(' or ')})`, bindings: parts.flatMap((x) => x.bindings) };
    }
  }
}

const live = (def: ResourceDefinition, alias: string) => (def.rowStore ? '' : `not ${alias}.deleted and `);

/**
 * A chain: the rows whose reference names a matching row of a target type (`ref && array(select
 * 'Patient/' || id from patient where ...)`); `_has`: the rows some matching row of the source type
 * names (`exists (select 1 from appointment where ... and its reference names this row)`). Both read
 * the other table in this transaction, so its own RLS decides which of its rows can match.
 */
function linkClause(def: ResourceDefinition, c: Criterion, link: Link, fhirBase: string, window: Where[], alias: string): Where {
  if (link.kind === 'chain') {
    const sets = link.targets.map(({ def: t, criterion }) => {
      const inner = clause(t, criterion, fhirBase, [], 'chained');
      return { sql: `array(select ?::text || chained.id::text from ${t.table} chained where ${live(t, 'chained')}${inner.sql})`, bindings: [`${t.type}/`, ...inner.bindings] };
    });
    const entries: Where = { sql: sets.map((x) => x.sql).join(' || '), bindings: sets.flatMap((x) => x.bindings) };
    return referenceClause(def, c.param as SearchParamDef, entries, window, alias);
  }
  const src = link.source;
  const inner = clause(src, link.criterion, fhirBase, [], 'has_source');
  const names = referenceClause(src, link.ref, { sql: `array[?::text || ${alias}.id::text]`, bindings: [`${def.type}/`] }, [], 'has_source');
  return {
    sql: `exists (select 1 from ${src.table} has_source where ${live(src, 'has_source')}${inner.sql} and ${names.sql})`,
    bindings: [...inner.bindings, ...names.bindings],
    idOnly: true,
  };
}

/** Applies the criteria of a parsed search to a query on the type's table (RLS adds the clinic). */
export function applyCriteria(q: Knex.QueryBuilder, def: ResourceDefinition, criteria: Criterion[], fhirBase: string, lookupTop?: number): Knex.QueryBuilder {
  const window = def.partitionedBy ? criteria.filter((c) => onLastUpdated(c.param)).map((c) => lastUpdatedClause('last_updated', c)) : [];
  for (const c of criteria) {
    const w = clause(def, c, fhirBase, window, def.table, lookupTop);
    q.whereRaw(w.sql, w.bindings as Knex.RawBinding[]);
  }
  return q;
}

/**
 * A page of a search in the default order (newest first) when every criterion is decided by the
 * row's id alone (search index lookups, _id): the ids of the page are picked first, on the index of
 * id that also carries clinic, compartment, deleted and last_updated (an index-only scan, migration
 * 024), and only the rows of the page are then read. A common family name matches thousands of
 * patients; a page of 20 reads 21 of them. Null when the search does not qualify.
 */
export function pagedSearch(
  q: Knex.QueryBuilder, def: ResourceDefinition, criteria: Criterion[], sort: ParsedSearch['sort'], fhirBase: string,
  page: { limit: number; offset: number },
): Knex.QueryBuilder | null {
  if (sort.length || !criteria.length || def.partitionedBy) return null;
  const parts = criteria.map((c) => clause(def, c, fhirBase, [], 'i'));
  if (!parts.every((w) => w.idOnly)) return null;
  return q
    .whereRaw(`${def.table}.id in (select i.id from ${def.table} i where not i.deleted and ${parts.map((w) => w.sql).join(' and ')} order by i.last_updated desc, i.id asc limit ?)`,
      [...parts.flatMap((w) => w.bindings), page.offset + page.limit] as Knex.RawBinding[])
    .orderBy('last_updated', 'desc').orderBy('id', 'asc').limit(page.limit).offset(page.offset);
}

/**
 * A page of a search in the default order (newest first) on a table partitioned by last_updated
 * (AuditEvent) whose one criterion besides its dates is a reference found by btree lookups
 * (`patient`, `agent`): each lookup answers only its newest offset + count rows, so a patient with
 * years of events has one page of them read, not every one of them before the sort. Null when the
 * search does not qualify.
 */
export function pagedLookupSearch(
  q: Knex.QueryBuilder, def: ResourceDefinition, criteria: Criterion[], sort: ParsedSearch['sort'], fhirBase: string,
  page: { limit: number; offset: number },
): Knex.QueryBuilder | null {
  if (sort.length || !def.partitionedBy) return null;
  const others = criteria.filter((c) => !onLastUpdated(c.param));
  if (others.length !== 1) return null;
  const [c] = others;
  if (c.link || c.modifier || c.param.type !== 'reference' || !('lookups' in c.param) || !c.param.lookups) return null;
  return applySort(applyCriteria(q, def, criteria, fhirBase, page.offset + page.limit), def, sort).limit(page.limit).offset(page.offset);
}

/** ORDER BY for `_sort`, always ending on id so paging is stable. */
export function applySort(q: Knex.QueryBuilder, def: ResourceDefinition, sort: ParsedSearch['sort']): Knex.QueryBuilder {
  for (const s of sort) {
    const dir = s.desc ? 'desc' : 'asc';
    if (s.name === '_lastUpdated') q.orderBy('last_updated', dir);
    else if (s.name === '_id') q.orderBy('id', dir);
    else {
      const p = def.search.find((x) => x.name === s.name);
      if (p?.column === 'last_updated') { q.orderBy('last_updated', dir); continue; }
      const col = searchColumnName(s.name);
      q.orderByRaw(`${p?.type === 'date' ? (s.desc ? `${col}_hi` : `${col}_lo`) : col} ${dir} nulls last`);
    }
  }
  if (!sort.length) q.orderBy('last_updated', 'desc');
  return q.orderBy('id', 'asc');
}
