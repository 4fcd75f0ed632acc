import type { Request, Response } from 'express';
import type { Interaction } from 'oidc-provider';
import { asAuthServer } from './auth-db';
import { recordAuthEvent } from './audit';
import { findClient } from './clients';
import { isFirstParty } from './first-party';
import { saveGrantContext } from './grant-context';
import { accountOf, type InteractionDeps, sendPage } from './interaction-kit';
import { consumeLaunch, findLaunch, type LaunchContext } from './launch';
import { pickablePatients, readablePatient } from './patients';
import { describeScope, resourceScopes, splitScopes, staticScopes } from './smart-scopes';
import { clinicPage, consentPage, errorPage } from './views';

interface Clinic { id: string; name: string }

async function userClinics(deps: InteractionDeps, userId: string): Promise<Clinic[]> {
  return asAuthServer(deps.db, (trx) => trx('membership as m').join('clinic as c', 'c.id', 'm.clinic_id')
    .where({ 'm.user_id': userId, 'm.disabled': false, 'c.active': true }).orderBy('c.name').select('c.id', 'c.name'));
}

/** What the consent step works from, or a reason to refuse the whole authorization. */
interface ConsentBasis {
  userId: string;
  clientId: string;
  clientName: string;
  clinics: Clinic[];
  launch?: LaunchContext;
  requested: string[];
}

async function basis(deps: InteractionDeps, details: Interaction): Promise<ConsentBasis | string> {
  const userId = accountOf(details)!;
  const client = await findClient(deps.db, String(details.params.client_id), deps.cfg);
  if (!client) return 'the app is no longer registered';
  const clinics = await userClinics(deps, userId);
  if (clinics.length === 0) return 'no active clinic membership';
  let launch: LaunchContext | undefined;
  if (details.params.launch !== undefined) {
    launch = await findLaunch(deps.db, details.params.launch);
    if (!launch) return 'the launch has expired or was already used';
    if (launch.userId !== userId) return 'the launch was minted for another user';
    if (launch.clientId && launch.clientId !== client.id) return 'the launch was minted for another app';
    if (!clinics.some((c) => c.id === launch!.clinicId)) return 'no active membership at the launch clinic';
  }
  return { userId, clientId: client.id, clientName: client.name, clinics, launch, requested: splitScopes(details.params.scope) };
}

/** Ends the authorization with access_denied (the app gets the error at its verified redirect_uri). */
async function deny(deps: InteractionDeps, req: Request, res: Response, details: Interaction, reason: string, clinicId: string | null, userId?: string): Promise<void> {
  await recordAuthEvent(deps.db, { kind: 'authorize', outcome: '4', reason: `authorization refused: ${reason}`, clinicId, userId, clientId: String(details.params.client_id) });
  await deps.provider().interactionFinished(req, res, { error: 'access_denied', error_description: reason }, { mergeWithLastSubmission: false });
}

const chosenClinic = (b: ConsentBasis, requested: unknown): Clinic | undefined =>
  b.launch ? b.clinics.find((c) => c.id === b.launch!.clinicId)
    : b.clinics.length === 1 ? b.clinics[0] : b.clinics.find((c) => c.id === requested);

/** Standalone launch/patient asks the user to pick; an EHR launch brings its patient. */
const needsPicker = (b: ConsentBasis): boolean => !b.launch && b.requested.includes('launch/patient');

export async function renderConsent(deps: InteractionDeps, req: Request, res: Response, details: Interaction, csrf: string): Promise<void> {
  const b = await basis(deps, details);
  if (typeof b === 'string') return deny(deps, req, res, details, b, null, accountOf(details));
  const clinic = chosenClinic(b, req.query.clinic);
  if (!clinic) {
    sendPage(res, 200, clinicPage({ uid: details.uid, clinics: b.clinics }), details.params.redirect_uri);
    return;
  }
  // The server's own app asks for nothing beyond its registration: the user's choice is the clinic.
  if (isFirstParty(b.clientId)) return grantAndFinish(deps, req, res, details, b, clinic, b.requested, undefined, 'first-party app: no consent asked');
  const who = { clinicId: clinic.id, userId: b.userId, clientId: b.clientId };
  const q = typeof req.query.q === 'string' ? req.query.q : '';
  const patients = needsPicker(b) ? await pickablePatients(deps.db, who, q) : undefined;
  const fixed = b.launch?.patientId ? await readablePatient(deps.db, who, b.launch.patientId) : undefined;
  sendPage(res, 200, consentPage({
    uid: details.uid, csrf, clientName: b.clientName, clinic, patients, patientQuery: q, fixedPatient: fixed?.label,
    scopes: b.requested.map((scope) => ({ scope, text: describeScope(scope) })),
  }), details.params.redirect_uri);
}

/**
 * The user's decision: a new grant with the ticked scopes (a subset of what was requested, which
 * the provider already checked against the registration), plus the clinic and patient in context.
 */
export async function submitConsent(deps: InteractionDeps, req: Request, res: Response, details: Interaction, body: Record<string, unknown>): Promise<void> {
  const b = await basis(deps, details);
  if (typeof b === 'string') return deny(deps, req, res, details, b, null, accountOf(details));
  const clinic = chosenClinic(b, body.clinic);
  if (!clinic) {
    sendPage(res, 400, errorPage('invalid_request', 'Choose one of your clinics.'), details.params.redirect_uri);
    return;
  }
  if (body.decision !== 'allow') return deny(deps, req, res, details, 'the user denied access', clinic.id, b.userId);

  const ticked = new Set(Array.isArray(body.scope) ? body.scope.map(String) : typeof body.scope === 'string' ? [body.scope] : []);
  const granted = b.requested.filter((s) => ticked.has(s));
  let patientId = b.launch?.patientId;
  if (needsPicker(b) && granted.includes('launch/patient')) {
    const patient = await readablePatient(deps.db, { clinicId: clinic.id, userId: b.userId }, body.patient);
    if (!patient) {
      sendPage(res, 400, errorPage('invalid_request', 'Choose a patient you may see at this clinic.'), details.params.redirect_uri);
      return;
    }
    patientId = patient.id;
  }

  await grantAndFinish(deps, req, res, details, b, clinic, granted, patientId, 'the user consented');
}

/** A new grant of `granted` (already checked against the registration), with the clinic and patient in context. */
async function grantAndFinish(
  deps: InteractionDeps, req: Request, res: Response, details: Interaction, b: ConsentBasis, clinic: Clinic, granted: string[], patientId: string | undefined, reason: string,
): Promise<void> {
  const ticked = new Set(granted);
  const provider = deps.provider();
  const grant = new provider.Grant({ accountId: b.userId, clientId: b.clientId });
  const oidcScopes = staticScopes(granted);
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  const rsScopes = resourceScopes(granted);
  if (rsScopes.length) grant.addResourceScope(deps.cfg.tokenAudience, rsScopes.join(' '));
  // Unticked scopes are recorded as refused, so the provider does not ask for them again.
  const refused = b.requested.filter((s) => !ticked.has(s));
  if (staticScopes(refused).length) grant.rejectOIDCScope(staticScopes(refused).join(' '));
  if (resourceScopes(refused).length) grant.rejectResourceScope(deps.cfg.tokenAudience, resourceScopes(refused).join(' '));
  const grantId = await grant.save();
  await saveGrantContext(deps.db, { grantId, clinicId: clinic.id, userId: b.userId, patientId }, deps.cfg.oauth.refreshTokenTtl);
  if (b.launch) await consumeLaunch(deps.db, b.launch.id);
  await recordAuthEvent(deps.db, {
    kind: 'authorize', outcome: '0', reason, clinicId: clinic.id, userId: b.userId, clientId: b.clientId,
    scope: granted.join(' '), patientId,
  });
  await provider.interactionFinished(req, res, { ...(details.result ?? {}), consent: { grantId } }, { mergeWithLastSubmission: false });
}
