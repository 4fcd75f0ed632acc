import { badRequest } from '../http/errors';
import { isUuid } from '../http/ids';
import { RESOURCE_DEFINITIONS } from '../fhir/resources';

/**
 * The filters of an access log (and of its exports), parsed strictly: an impossible date, an
 * unknown value or an unknown parameter is a 400 whose message names the field, never the value.
 */
export interface AccessFilters {
  from?: string;   // ISO instant, inclusive
  to?: string;     // ISO instant, exclusive
  user?: string;
  patient?: string;
  action?: 'C' | 'R' | 'U' | 'D' | 'E';
  outcome?: '0' | '4' | '8';
  purpose?: string;
  type?: string;
  /** Keyset cursor: the (last_updated, id) of the last row shown. */
  after?: { at: string; id: string };
}

export const ACTIONS = { C: 'create', R: 'read', U: 'update', D: 'delete', E: 'execute / search' } as const;
export const OUTCOMES: Readonly<Record<string, string>> = { 0: 'success', 4: 'refused', 8: 'failed' };
/** Purposes of use (v3 ActReason) the server records; BTG is emergency (break-glass) access. */
export const PURPOSES = { BTG: 'emergency (break-glass)', TREAT: 'treatment', ETREAT: 'emergency treatment', HPAYMT: 'payment', HOPERAT: 'operations', PATRQT: 'patient request' } as const;
export const resourceTypes = (): string[] => [...RESOURCE_DEFINITIONS.map((d) => d.type), 'Binary'].sort();

const KNOWN = new Set(['from', 'to', 'user', 'patient', 'action', 'outcome', 'purpose', 'type', 'after', 'format']);
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const CURSOR_AT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:\d{2})?)$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

function instant(field: string, v: string, endOfDay: boolean): string {
  const day = DAY.exec(v);
  if (day) {
    const d = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])));
    // 2026-02-30 rolls over to March: the round trip catches it.
    if (d.getUTCFullYear() !== Number(day[1]) || d.getUTCMonth() !== Number(day[2]) - 1 || d.getUTCDate() !== Number(day[3])) throw badRequest(`"${field}" is not a real date (use YYYY-MM-DD)`);
    if (endOfDay) d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString();
  }
  if (INSTANT.test(v) && !Number.isNaN(Date.parse(v))) return new Date(v).toISOString();
  throw badRequest(`"${field}" is not a date (use YYYY-MM-DD)`);
}

const oneOf = <T extends string>(field: string, v: string, allowed: readonly string[]): T => {
  if (!allowed.includes(v)) throw badRequest(`"${field}" must be one of: ${allowed.join(', ')}`);
  return v as T;
};

export function encodeCursor(at: string, id: string): string { return Buffer.from(`${at}|${id}`).toString('base64url'); }

export function parseFilters(q: Record<string, unknown>): AccessFilters {
  const f: AccessFilters = {};
  for (const [k, raw] of Object.entries(q)) {
    if (!KNOWN.has(k)) throw badRequest(`Unknown filter "${k.slice(0, 40)}"`);
    if (typeof raw !== 'string') throw badRequest(`"${k}" was given more than once`);
    const v = raw.trim();
    if (v === '' || k === 'format') continue;
    if (v.length > 100) throw badRequest(`"${k}" is too long`);
    switch (k) {
      case 'from': f.from = instant('from', v, false); break;
      case 'to': f.to = instant('to', v, true); break;
      case 'user': if (!isUuid(v)) throw badRequest('"user" must be a user id (a UUID)'); f.user = v.toLowerCase(); break;
      case 'patient': if (!isUuid(v)) throw badRequest('"patient" must be a patient id (a UUID)'); f.patient = v.toLowerCase(); break;
      case 'action': f.action = oneOf<NonNullable<AccessFilters['action']>>('action', v, Object.keys(ACTIONS)); break;
      case 'outcome': f.outcome = oneOf<NonNullable<AccessFilters['outcome']>>('outcome', v, Object.keys(OUTCOMES)); break;
      case 'purpose': f.purpose = oneOf('purpose', v, Object.keys(PURPOSES)); break;
      case 'type': f.type = oneOf('type', v, resourceTypes()); break;
      case 'after': {
        const [at, id] = Buffer.from(v, 'base64url').toString().split('|');
        if (!id || !isUuid(id) || !CURSOR_AT.test(at ?? '')) throw badRequest('"after" is not a page of this log');
        f.after = { at, id };
        break;
      }
    }
  }
  if (f.from && f.to && f.from >= f.to) throw badRequest('"from" must be before "to"');
  return f;
}

/** The filters as query parameters again (for links to the next page and the exports). */
export function filterParams(q: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of ['from', 'to', 'user', 'patient', 'action', 'outcome', 'purpose', 'type']) if (typeof q[k] === 'string') out[k] = q[k] as string;
  return out;
}
