import type { Request, RequestHandler, Response, Router } from 'express';
import type { Knex } from 'knex';
import type { AuditFacts } from '../audit/record';
import { grants } from '../auth/permissions';
import { notFound } from '../http/errors';
import { isUuid } from '../http/ids';
import { REVIEW_KEY, reviewGrant } from '../care/break-glass';
import type { AuditedTx } from '../pipeline/audited';
import { grantDetail, grantList, parseGrantFilters, staffRoles } from './break-glass';
import { grantBody, grantListBody } from './break-glass-pages';
import type { Html } from './html';
import { addScreen } from './layout';
import { accessOf, type ConsoleSession } from './session';
import { staffLabels } from './staff';

/** What the console's router lends a screen: its session, CSRF and audited-view wrappers. */
export interface Ctx { session: ConsoleSession; csrf: string }
export type Handler = (req: Request, res: Response, ctx: Ctx) => Promise<void>;
export interface ScreenKit {
  db: Knex;
  form: RequestHandler;
  signedIn(h: Handler): RequestHandler;
  posted(h: Handler): RequestHandler;
  asViewer<T>(s: ConsoleSession, req: Request, f: Partial<AuditFacts>, work: (tx: AuditedTx) => Promise<T>): Promise<T>;
  page(res: Response, ctx: Ctx, title: string, active: string, body: Html): void;
}

const LIST_SIZE = 200;
const PATH = '/console/break-glass';
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

/**
 * The break-glass review screen: the clinic's grants and one grant's page with its accesses and
 * history. A decision is `$break-glass-review` itself (server/care, `reviewGrant`) run as the
 * signed-in user; a viewer without compliance.breakGlass.review sees the grant read-only.
 */
export function breakGlassScreen(router: Router, kit: ScreenKit): void {
  const { db } = kit;
  addScreen({ path: PATH, label: 'Break-glass review' });
  const people = async (clinicId: string, ids: Array<string | null>) => {
    const known = ids.filter((x): x is string => typeof x === 'string');
    return { labels: await staffLabels(db, clinicId, known), roles: await staffRoles(db, clinicId, known) };
  };

  router.get('/break-glass', kit.signedIn(async (req, res, ctx) => {
    const rows = await kit.asViewer(ctx.session, req, {}, (tx) => grantList(tx.trx, ctx.session.clinicId, parseGrantFilters(req.query), LIST_SIZE + 1));
    const shown = rows.slice(0, LIST_SIZE);
    const f = { status: text(req.query.status), from: text(req.query.from), to: text(req.query.to) };
    kit.page(res, ctx, 'Break-glass review', PATH, grantListBody(shown, await people(ctx.session.clinicId, shown.map((g) => g.user_id)), f, rows.length > LIST_SIZE));
  }));

  router.get('/break-glass/:grant', kit.signedIn(async (req, res, ctx) => {
    const id = String(req.params.grant);
    const { detail, mayDecide } = await kit.asViewer(ctx.session, req, {}, async (tx) => (
      { detail: await grantDetail(tx.trx, ctx.session.clinicId, id), mayDecide: grants(tx.membership.permissions, REVIEW_KEY) }));
    const g = detail.grant;
    const p = await people(ctx.session.clinicId, [g.user_id, g.reviewed_by, g.revoked_by, ...detail.events.map((e) => e.actor)]);
    kit.page(res, ctx, `Break-glass grant ${g.id}`, PATH, grantBody(detail, p, mayDecide ? { csrf: ctx.csrf } : undefined));
  }));

  router.post('/break-glass/:grant/review', kit.form, kit.posted(async (req, res, ctx) => {
    const body = req.body as Record<string, unknown>;
    const grantId = String(req.params.grant);
    const g = await reviewGrant(db, accessOf(ctx.session), text(body.patient), () => {
      if (!isUuid(grantId)) throw notFound('No such break-glass grant at this clinic');
      const note = text(body.note);
      return { grantId, decision: text(body.decision), note: note === '' ? undefined : note };
    });
    res.redirect(303, `${PATH}/${g.id}`);
  }));
}
