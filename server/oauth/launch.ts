import crypto from 'node:crypto';
import express, { type Router } from 'express';
import type { Knex } from 'knex';
import type passport from 'passport';
import { requireToken } from '../pipeline/authenticate';
import type { Config } from '../config';
import { badRequest } from '../http/errors';
import { withClinic } from '../tenancy/with-clinic';
import { isUuid } from '../http/ids';
import { asAuthServer } from './auth-db';
import { readablePatient } from './patients';

/** How long an EHR launch value may wait for the app to use it. */
export const LAUNCH_TTL_S = 600;

export interface LaunchContext { id: string; clinicId: string; userId: string; patientId?: string; clientId?: string }

export const newLaunchId = (): string => crypto.randomBytes(32).toString('base64url');

/** An unexpired launch value, read by the authorization server. */
export async function findLaunch(db: Knex, id: unknown): Promise<LaunchContext | undefined> {
  if (typeof id !== 'string' || id.length < 32 || id.length > 100) return undefined;
  const row = await asAuthServer(db, (trx) => trx('oauth_launch').where({ id }).where('expires_at', '>', trx.fn.now())
    .first('id', 'clinic_id', 'user_id', 'patient_id', 'client_id'));
  return row ? { id: row.id, clinicId: row.clinic_id, userId: row.user_id, patientId: row.patient_id ?? undefined, clientId: row.client_id ?? undefined } : undefined;
}

/** A launch value is used once. */
export async function consumeLaunch(db: Knex, id: string): Promise<void> {
  await asAuthServer(db, (trx) => trx('oauth_launch').where({ id }).delete());
}

/**
 * POST /oauth/launch {patient}: an EHR-side launcher, signed in with a user token, mints a launch
 * value for itself and a patient it may read; the insert runs as the user (RLS: its own clinic and id).
 */
export function launchRouter(cfg: Config, pp: passport.Authenticator, db: Knex): Router {
  const router = express.Router();
  router.post('/', requireToken(cfg, pp, db), express.json({ limit: '4kb' }), async (req, res) => {
    const access = req.access!;
    const body = (req.body ?? {}) as { patient?: unknown; client_id?: unknown };
    const patient = body.patient === undefined ? undefined : await readablePatient(db, access, body.patient);
    if (body.patient !== undefined && !patient) throw badRequest('patient is not a patient you may read at this clinic');
    if (body.client_id !== undefined && !isUuid(body.client_id)) throw badRequest('client_id must be a client id');
    const id = newLaunchId();
    await withClinic(db, access, ({ trx }) => trx('oauth_launch').insert({
      id, clinic_id: access.clinicId, user_id: access.userId, patient_id: patient?.id ?? null,
      client_id: isUuid(body.client_id) ? body.client_id : null,
      expires_at: trx.raw('now() + make_interval(secs => ?)', [LAUNCH_TTL_S]),
    }));
    res.status(201).json({ launch: id, expires_in: LAUNCH_TTL_S });
  });
  return router;
}
