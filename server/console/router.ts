import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Knex } from 'knex';
import type { AuditFacts, AuditRecord } from '../audit/record';
import type { Config } from '../config';
import { forbidden, notFound, OperationOutcomeError } from '../http/errors';
import { isUuid } from '../http/ids';
import { type AuditSealDeps, requireVerify, runVerify, VERIFY_DETAIL, verifyRangeOf } from '../fhir/audit-operations';
import { currentRequest } from '../http/request-context';
import type { KeyRing } from '../oauth/signing-keys';
import { audited, auditedOutside, type AuditedTx } from '../pipeline/audited';
import { accessLogPage } from './access-log';
import { computeAlerts } from './alerts';
import { breakGlassScreen, type Ctx, type Handler } from './break-glass-routes';
import { privilegedChanges } from './changes';
import { type ExportFormat, streamExport } from './export';
import { filterParams, parseFilters } from './filters';
import { integrityBody } from './integrity';
import { layout, sendHtml, STYLESHEET } from './layout';
import { overviewCards } from './overview';
import { PATIENT_REPORT_CSS, patientReportPage } from './patient-report';
import { accessLogBody, alertsBody, changesBody, errorBody, eventBody, overviewBody } from './pages';
import { accessOf, clearSession, type ConsoleSession, csrfToken, csrfValid, readSession, writeSession } from './session';
import { finishSignIn, startSignIn } from './sign-in';
import { query } from './html';
import { clinicStaff, staffLabels } from './staff';

export interface ConsoleDeps { cfg: Config; db: Knex; keys: KeyRing; csrfSecret: string; seal?: AuditSealDeps }

const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;


/**
 * The compliance console at /console: server-rendered pages for users whose role holds
 * compliance.auditEvents.search. Every page runs in the caller's audited RLS transaction
 * (pipeline/audited.ts) with the AccessContext of the token the session was started with, so it
 * sees one clinic, and its view is itself an AuditEvent (subtype console-*). See README.md here.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const { cfg, db } = deps;
  const secure = cfg.oauth.cookieSecure;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });

  const factsOf = (s: ConsoleSession, req: Request, f: Partial<AuditFacts>): AuditFacts => ({
    interaction: 'console-view', action: 'E', outcome: '0', clinicId: s.clinicId, userId: s.userId, clientId: s.clientId, fhirUser: s.fhirUser,
    resourceType: 'AuditEvent', query: req.originalUrl.slice(0, 2000), ...f,
  });
  /** A page's work in the caller's audited transaction; the view is recorded with the COMMIT. */
  const asViewer = <T>(s: ConsoleSession, req: Request, f: Partial<AuditFacts>, work: (tx: AuditedTx) => Promise<T>): Promise<T> =>
    audited(db, accessOf(s), factsOf(s, req, f), {}, async (tx) => {
      tx.require('AuditEvent', 'search');
      const value = await work(tx);
      tx.audit(factsOf(s, req, f));
      return value;
    });
  const page = (res: Response, ctx: Ctx, title: string, active: string, body: Parameters<typeof layout>[1]) =>
    sendHtml(res, 200, layout({ title, active, csrf: ctx.csrf, user: ctx.session.label }, body));

  router.get('/style.css', (_req, res) => { res.setHeader('Content-Type', 'text/css; charset=utf-8'); res.setHeader('Cache-Control', 'public, max-age=3600'); res.end(STYLESHEET); });
  router.get('/login', (req, res) => startSignIn(deps, req, res));
  router.get('/callback', (req, res, next) => { finishSignIn(deps, req, res).catch(next); });

  // Every other page needs a live session; each view slides its idle timeout.
  const signedIn = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => {
    const s = readSession(req);
    if (typeof s === 'string') {
      if (req.method === 'GET') return res.redirect(303, `/console/login?next=${encodeURIComponent(req.originalUrl)}`);
      return sendHtml(res, 401, layout({ title: 'Signed out' }, errorBody(s === 'expired' ? 'Your session idled out. Sign in again.' : 'Sign in first.', true)));
    }
    const session = { ...s, seenAt: Date.now() };
    const info = currentRequest();
    if (info) info.caller = { userId: s.userId, clinicId: s.clinicId, clientId: s.clientId };
    writeSession(res, session, secure);
    handler(req, res, { session, csrf: csrfToken(deps.csrfSecret, session) }).catch(next);
  };
  /** A form post: its CSRF token must be this session's; a forged or stale one is refused and audited. */
  const posted = (handler: Handler) => signedIn(async (req, res, ctx) => {
    const body = req.body as Record<string, unknown>;
    if (!csrfValid(deps.csrfSecret, ctx.session, body.csrf)) {
      await auditedOutside(db, factsOf(ctx.session, req, { interaction: 'console-form', action: 'U', outcome: '4' }), async () => {
        throw forbidden('This form was not sent by your console session (missing, forged or expired security token). Reload the page and try again.');
      });
    }
    await handler(req, res, ctx);
  });

  router.get('/', signedIn(async (req, res, ctx) => {
    const days = 7;
    const cards = await asViewer(ctx.session, req, {}, (tx) => overviewCards(tx, ctx.session.clinicId, new Date(Date.now() - days * DAY_MS).toISOString(), db));
    page(res, ctx, 'Overview', '/console', overviewBody(cards, days));
  }));

  router.get('/access', signedIn(async (req, res, ctx) => {
    const rows = await asViewer(ctx.session, req, {}, async (tx) => accessLogPage(tx.trx, ctx.session.clinicId, parseFilters(req.query), PAGE_SIZE + 1));
    const params = filterParams(req.query);
    const shown = rows.slice(0, PAGE_SIZE);
    const labels = await staffLabels(db, ctx.session.clinicId, [...shown.flatMap((r) => (r.user_id ? [r.user_id] : [])), ...(params.user ? [params.user] : [])]);
    page(res, ctx, params.patient ? 'Access log of a patient' : params.user ? 'Access log of a user' : 'Access log', '/console/access', accessLogBody({ params, rows: shown, more: rows.length > PAGE_SIZE, labels }));
  }));

  router.get('/access/export.:format', signedIn(async (req, res, ctx) => {
    const format = req.params.format as ExportFormat;
    if (format !== 'csv' && format !== 'ndjson') throw notFound('No such export format (csv or ndjson)');
    const labelsOf = (ids: string[]) => staffLabels(db, ctx.session.clinicId, ids);
    try {
      await asViewer(ctx.session, req, { interaction: 'console-export' }, async (tx) => streamExport(tx.trx, ctx.session.clinicId, parseFilters(req.query), format, res, labelsOf));
    } catch (err) {
      if (res.headersSent) { res.destroy(); return; }
      throw err;
    }
    res.end();
  }));

  router.get('/events/:id', signedIn(async (req, res, ctx) => {
    const id = String(req.params.id);
    const row = await asViewer(ctx.session, req, { resourceId: id }, async (tx) => {
      const found = isUuid(id) ? await tx.trx('audit_event').where({ clinic_id: ctx.session.clinicId, id }).first('*') as AuditRecord | undefined : undefined;
      if (!found) throw notFound('No such AuditEvent at this clinic');
      return found;
    });
    page(res, ctx, `AuditEvent ${row.id}`, '/console/access', eventBody(row));
  }));

  router.get('/changes', signedIn(async (req, res, ctx) => {
    const changes = await asViewer(ctx.session, req, {}, async (tx) => {
      const f = parseFilters(req.query);
      return privilegedChanges(tx.trx, ctx.session.clinicId, f.from, f.to, 200);
    });
    page(res, ctx, 'Privileged changes', '/console/changes', changesBody(changes));
  }));

  router.get('/alerts', signedIn(async (req, res, ctx) => {
    const { alerts, from, to } = await asViewer(ctx.session, req, {}, async (tx) => {
      const f = parseFilters(req.query);
      const window = { from: f.from ?? new Date(Date.now() - 7 * DAY_MS).toISOString(), to: f.to ?? new Date(Date.now() + 60_000).toISOString() };
      return { ...window, alerts: await computeAlerts(tx.trx, ctx.session.clinicId, window.from, window.to, await clinicStaff(db, ctx.session.clinicId)) };
    });
    const labels = await staffLabels(db, ctx.session.clinicId, alerts.flatMap((a) => [a.userId, ...(a.review ? [a.review.by] : [])]));
    page(res, ctx, 'Alerts', '/console/alerts', alertsBody(alerts, labels, ctx.csrf, { from, to }));
  }));

  router.post('/alerts/review', form, posted(async (req, res, ctx) => {
    const body = req.body as Record<string, unknown>;
    await asViewer(ctx.session, req, { interaction: 'console-alert-review', action: 'U', resourceType: undefined, query: `alert=${String(body.key ?? '').slice(0, 300)}` }, async (tx) => {
      const key = typeof body.key === 'string' ? body.key.trim() : '';
      const note = typeof body.note === 'string' ? body.note.trim() : '';
      if (!/^[a-z-]+:[0-9a-f-]{36}(:[0-9A-Za-z:.\-]+)?$/.test(key) || key.length > 300) throw new OperationOutcomeError(400, { severity: 'error', code: 'invalid', diagnostics: 'That is not an alert of this console' });
      if (note.length < 1 || note.length > 2000) throw new OperationOutcomeError(400, { severity: 'error', code: 'invalid', diagnostics: 'A review needs a note (up to 2000 characters)' });
      await tx.trx('console_alert_review').insert({ clinic_id: ctx.session.clinicId, alert_key: key, reviewed_by: ctx.session.userId, note });
    });
    res.redirect(303, '/console/alerts');
  }));

  router.get('/patient-report.css', (_req, res) => { res.setHeader('Content-Type', 'text/css; charset=utf-8'); res.setHeader('Cache-Control', 'public, max-age=3600'); res.end(PATIENT_REPORT_CSS); });
  router.get('/patient-report', signedIn((req, res, ctx) => patientReportPage(db, req, res, ctx.session, ctx.csrf, (work) => asViewer(ctx.session, req, {}, work))));

  router.get('/integrity', signedIn(async (req, res, ctx) => {
    await asViewer(ctx.session, req, {}, async (tx) => requireVerify(tx));
    page(res, ctx, 'Integrity', '/console/integrity', integrityBody({ csrf: ctx.csrf }));
  }));

  // The same $verify as the API (runVerify), as the signed-in user; its run is audited as $verify's is.
  router.post('/integrity', form, posted(async (req, res, ctx) => {
    const body = req.body as Record<string, unknown>;
    const given = { from: body.from === '' ? undefined : body.from, to: body.to === '' ? undefined : body.to };
    const shown = { from: typeof given.from === 'string' ? given.from.slice(0, 40) : undefined, to: typeof given.to === 'string' ? given.to.slice(0, 40) : undefined };
    const facts = factsOf(ctx.session, req, { interaction: 'operation', action: 'E', detail: { ...VERIFY_DETAIL }, query: query('', shown).slice(1) || undefined });
    try {
      const result = await audited(db, accessOf(ctx.session), facts, {}, (tx) => runVerify(tx, deps.seal, facts, () => verifyRangeOf(given)));
      page(res, ctx, 'Integrity', '/console/integrity', integrityBody({ csrf: ctx.csrf, ...shown, result }));
    } catch (err) {
      // A mistake in the dates is shown above the form (escaped); refusals get the error page.
      if (!(err instanceof OperationOutcomeError) || err.status !== 400) throw err;
      sendHtml(res, 400, layout({ title: 'Integrity', active: '/console/integrity', csrf: ctx.csrf, user: ctx.session.label }, integrityBody({ csrf: ctx.csrf, ...shown, error: err.message })));
    }
  }));

  breakGlassScreen(router, { db, form, signedIn, posted, asViewer, page });

  router.post('/logout', form, posted(async (_req, res) => {
    clearSession(res, secure);
    sendHtml(res, 200, layout({ title: 'Signed out' }, errorBody('You are signed out of the console.', true)));
  }));

  // A refusal or a mistake is a page with a readable message (escaped), never a stack trace.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) { res.destroy(); return; }
    if (err instanceof OperationOutcomeError) {
      sendHtml(res, err.status, layout({ title: err.status === 403 ? 'Not allowed' : err.status === 404 ? 'Not found' : 'Cannot show this' }, errorBody(err.message, err.status === 401)));
      return;
    }
    currentRequest()?.log.error({ err }, 'console page failed');
    sendHtml(res, 500, layout({ title: 'Something went wrong' }, errorBody('The page could not be shown. Try again.', false)));
  });
  return router;
}
