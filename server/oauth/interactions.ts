import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Interaction } from 'oidc-provider';
import { currentRequest } from '../http/request-context';
import { renderConsent, submitConsent } from './consent';
import { accountOf, type InteractionDeps, sendPage } from './interaction-kit';
import { checkCsrf, issueCsrf } from './csrf';
import { findClient } from './clients';
import { signIn } from './sign-in';
import { errorPage, loginPage, SECURE_COOKIE_OVER_HTTP } from './views';

/** The interaction this browser is in (its signed cookie names it); an error page when there is none. */
async function interactionOf(deps: InteractionDeps, req: Request, res: Response): Promise<Interaction | undefined> {
  try {
    const details = await deps.provider().interactionDetails(req, res);
    if (details.uid !== req.params.uid) throw new Error('interaction mismatch');
    return details;
  } catch {
    // No interaction cookie at all over plain http while cookies are Secure: the browser dropped it.
    const droppedSecureCookie = deps.cfg.oauth.cookieSecure && !req.secure && !/(^|;\s*)_interaction=/.test(req.headers.cookie ?? '');
    sendPage(res, 400, errorPage('invalid_request', droppedSecureCookie ? SECURE_COOKIE_OVER_HTTP : 'This sign-in page has expired or does not belong to this browser.'));
    return undefined;
  }
}

/**
 * The sign-in and consent pages oidc-provider sends the browser to (interactions.url): password and
 * TOTP, then clinic, patient and scopes, then back to the provider with the result.
 */
export function interactionRouter(deps: InteractionDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 100 });
  const secure = deps.cfg.oauth.cookieSecure;

  router.get('/:uid', async (req: Request<{ uid: string }>, res: Response) => {
    const details = await interactionOf(deps, req, res);
    if (!details) return;
    const client = await findClient(deps.db, String(details.params.client_id), deps.cfg);
    const csrf = issueCsrf(req, res, deps.csrfSecret, details.uid, secure);
    if (!accountOf(details)) {
      sendPage(res, 200, loginPage({ uid: details.uid, csrf, clientName: client?.name ?? 'an app' }), details.params.redirect_uri);
      return;
    }
    await renderConsent(deps, req, res, details, csrf);
  });

  router.post('/:uid/login', form, async (req: Request<{ uid: string }>, res: Response) => {
    const details = await interactionOf(deps, req, res);
    if (!details) return;
    const body = req.body as Record<string, unknown>;
    if (!checkCsrf(req, deps.csrfSecret, details.uid, body.csrf)) {
      sendPage(res, 403, errorPage('invalid_request', 'The form expired. Go back and try again.'));
      return;
    }
    const result = await signIn(deps.db, deps.cfg, {
      email: String(body.email ?? ''), password: String(body.password ?? ''), code: String(body.code ?? ''),
      sourceIp: currentRequest()?.sourceIp ?? req.ip ?? 'unknown',
    });
    if (!result.ok) {
      const client = await findClient(deps.db, String(details.params.client_id), deps.cfg);
      const csrf = issueCsrf(req, res, deps.csrfSecret, details.uid, secure);
      sendPage(res, 401, loginPage({ uid: details.uid, csrf, clientName: client?.name ?? 'an app', error: true }), details.params.redirect_uri);
      return;
    }
    // Kept in the interaction (server side) until consent; the session gets it when the provider resumes.
    await deps.provider().interactionResult(req, res, { login: { accountId: result.userId, amr: result.mfa ? ['pwd', 'otp'] : ['pwd'] } }, { mergeWithLastSubmission: false });
    res.redirect(303, `/oauth/interaction/${encodeURIComponent(details.uid)}`);
  });

  router.post('/:uid/consent', form, async (req: Request<{ uid: string }>, res: Response) => {
    const details = await interactionOf(deps, req, res);
    if (!details) return;
    const body = req.body as Record<string, unknown>;
    if (!accountOf(details) || !checkCsrf(req, deps.csrfSecret, details.uid, body.csrf)) {
      sendPage(res, 403, errorPage('invalid_request', 'The form expired. Go back and try again.'));
      return;
    }
    await submitConsent(deps, req, res, details, body);
  });

  // An interaction error is a page, never a redirect to an unverified place, and never a stack trace.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    currentRequest()?.log.error({ err }, 'sign-in page failed');
    if (!res.headersSent) sendPage(res, 500, errorPage('server_error', 'Something went wrong. Start again from the app.'));
  });
  return router;
}
