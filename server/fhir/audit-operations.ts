import express, { type Request, type Response, type Router } from 'express';
import type { Parameters, ParametersParameter } from 'fhir/r4';
import type { AccessContext } from '../auth/access-context';
import { grants } from '../auth/permissions';
import type { AnchorStore } from '../audit/sealer';
import type { SealKey } from '../audit/seal-key';
import type { AuditFacts } from '../audit/record';
import { verifyAuditTrail, type VerifyResult } from '../audit/verify';
import { badRequest, forbidden, notFound } from '../http/errors';
import { audited, type AuditedTx } from '../pipeline/audited';
import { parseJsonBody } from './body';
import { callerFacts } from './interaction';
import { send } from './router';

export interface AuditSealDeps {
  key: SealKey;
  anchors: AnchorStore;
}

const DATE_TIME = /^(\d{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/;

/** A FHIR dateTime as the first (`from`) or last (`to`) instant it covers. */
export function dateTimeBound(name: string, raw: unknown, edge: 'start' | 'end'): Date {
  if (typeof raw !== 'string' || !DATE_TIME.test(raw)) throw badRequest(`${name} must be a FHIR dateTime (e.g. 2026-11-29 or 2026-11-29T10:00:00Z)`, [name]);
  if (raw.length > 10) return new Date(raw);
  const [y, m = 1, d = 1] = raw.split('-').map(Number);
  const start = Date.UTC(y, m - 1, d);
  if (Number.isNaN(start) || new Date(start).getUTCDate() !== d) throw badRequest(`${name} is not a calendar date`, [name]);
  if (edge === 'start') return new Date(start);
  const next = raw.length === 4 ? Date.UTC(y + 1, 0, 1) : raw.length === 7 ? Date.UTC(y, m, 1) : Date.UTC(y, m - 1, d + 1);
  return new Date(next - 1);
}

export interface VerifyRange { from?: Date; to?: Date }

/** `from` and `to` as given (FHIR dateTimes, or undefined); `to` before `from` is refused. */
export function verifyRangeOf(given: { from?: unknown; to?: unknown }): VerifyRange {
  const from = given.from === undefined ? undefined : dateTimeBound('from', given.from, 'start');
  const to = given.to === undefined ? undefined : dateTimeBound('to', given.to, 'end');
  if (from && to && to < from) throw badRequest('to is before from', ['to']);
  return { from, to };
}

/** `from` and `to`, from the Parameters body or the query string; anything else is refused. */
function verifyRange(req: Request): VerifyRange {
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.query)) {
    if (k !== 'from' && k !== 'to') throw badRequest(`Unknown parameter ${k}: $verify takes from and to`, [k]);
    given[k] = v;
  }
  const text = typeof req.body === 'string' ? req.body.trim() : '';
  if (text) {
    const p = parseJsonBody(req.headers['content-type'], text, 'Parameters') as Parameters;
    for (const part of p.parameter ?? []) {
      if (part.name !== 'from' && part.name !== 'to') throw badRequest(`Unknown parameter ${String(part.name)}: $verify takes from and to`, [`Parameters.parameter.${String(part.name)}`]);
      if (given[part.name] !== undefined) throw badRequest(`${part.name} is given twice`, [part.name]);
      given[part.name] = part.valueDateTime ?? part.valueInstant ?? part.valueDate;
    }
  }
  return verifyRangeOf(given);
}

/** The permission of $verify: AuditEvent search (scope and role) and the role's compliance.auditEvents.verify. */
export function requireVerify(tx: AuditedTx): void {
  tx.require('AuditEvent', 'search');
  if (!grants(tx.membership.permissions, 'compliance.auditEvents.verify')) throw forbidden('role does not grant compliance.auditEvents.verify');
}

/**
 * The one implementation of $verify, for the API and the console: the permission, the range (read
 * after the permission, so a refused caller learns nothing of its input), the verification in the
 * caller's RLS transaction, and its AuditEvent whose outcomeDesc says the result.
 */
export async function runVerify(tx: AuditedTx, seal: AuditSealDeps | undefined, facts: AuditFacts, rangeOf: () => VerifyRange): Promise<VerifyResult> {
  requireVerify(tx);
  const range = rangeOf();
  if (!seal) throw notFound('The audit seal is off on this server (AUDIT_SEAL=false)');
  const r = await verifyAuditTrail(tx.trx, tx.access.clinicId, seal.key, seal.anchors, range);
  tx.audit({ ...facts, outcomeDesc: `$verify: ${r.result}, ${r.checked} rows, ${r.issues.length} issues` });
  return r;
}

/** The facts of a $verify run: one shape whichever way it was asked, so the last result can be found. */
export const VERIFY_DETAIL = { operation: '$verify' } as const;

const parameters = (parameter: ParametersParameter[]): string => JSON.stringify({ resourceType: 'Parameters', parameter } satisfies Parameters);

/**
 * `POST [base]/AuditEvent/$verify` (is the caller's clinic's trail intact in [from, to]?) and
 * `GET [base]/AuditEvent/$checkpoint` (its latest signed checkpoint). Both are audited.
 */
export function auditOperationsRouter(deps: { db: import('knex').Knex }, seal: AuditSealDeps | undefined): Router {
  const router = express.Router();
  // POST with Parameters, or GET with from/to in the query (it changes nothing but its own AuditEvent).
  const verify = async (req: Request, res: Response) => {
    const access = req.access as AccessContext;
    const facts = { ...callerFacts(access, 'operation', 'E'), resourceType: 'AuditEvent', query: new URLSearchParams(req.query as Record<string, string>).toString() || undefined, detail: { ...VERIFY_DETAIL } };
    const body = await audited(deps.db, access, facts, {}, async (tx) => {
      const r = await runVerify(tx, seal, facts, () => verifyRange(req));
      const first = r.issues[0];
      return parameters([
        { name: 'result', valueCode: r.result },
        { name: 'checked', valueInteger: r.checked },
        ...(r.verifiedThrough ? [{ name: 'verifiedThrough', valueInstant: r.verifiedThrough }] : []),
        { name: 'sealLagSeconds', valueDecimal: Math.round(r.sealLagSeconds * 1000) / 1000 },
        ...r.issues.map((i) => ({
          name: 'issue',
          part: [
            { name: 'kind', valueCode: i.kind },
            ...(i.auditEventId ? [{ name: 'auditEvent', valueReference: { reference: `AuditEvent/${i.auditEventId}` } }] : []),
            { name: 'first', valueBoolean: i === first },
            { name: 'message', valueString: i.message },
          ],
        })),
        ...[...new Set(r.incomplete)].map((m) => ({ name: 'incomplete', valueString: m })),
      ]);
    });
    send(res, { status: 200, body });
  };
  router.post('/AuditEvent/\\$verify', verify);
  router.get('/AuditEvent/\\$verify', verify);
  router.get('/AuditEvent/\\$checkpoint', async (req: Request, res: Response) => {
    const access = req.access as AccessContext;
    const facts = { ...callerFacts(access, 'operation', 'R'), resourceType: 'AuditEvent', detail: { operation: '$checkpoint' } };
    const body = await audited(deps.db, access, facts, {}, async (tx) => {
      tx.require('AuditEvent', 'search');
      if (Object.keys(req.query).length) throw badRequest('$checkpoint takes no parameters');
      if (!seal) throw notFound('The audit seal is off on this server (AUDIT_SEAL=false)');
      const { rows } = await tx.trx.raw(`select tree_size::text as size, head, sealed_at, statement, signature, key_id, anchored_at
          from audit_checkpoint where clinic_id = ? order by tree_size desc limit 1`, [access.clinicId]);
      tx.audit(facts);
      const c = rows[0] as Record<string, unknown> | undefined;
      // Nothing sealed yet: the empty chain, which no signature covers.
      if (!c) return parameters([{ name: 'treeSize', valueInteger: 0 }, { name: 'publicKey', valueString: JSON.stringify(seal.key.publicJwk) }]);
      return parameters([
        { name: 'treeSize', valueInteger: Number(c.size) },
        { name: 'head', valueString: (c.head as Buffer).toString('hex') },
        { name: 'sealedAt', valueInstant: (c.sealed_at as Date).toISOString() },
        { name: 'statement', valueString: c.statement as string },
        { name: 'signature', valueBase64Binary: (c.signature as Buffer).toString('base64') },
        { name: 'keyId', valueString: c.key_id as string },
        { name: 'publicKey', valueString: JSON.stringify(seal.key.publicJwk) },
        { name: 'anchored', valueBoolean: c.anchored_at !== null },
      ]);
    });
    send(res, { status: 200, body });
  });
  return router;
}
