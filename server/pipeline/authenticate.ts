import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { decodeJwt } from 'jose';
import type passport from 'passport';
import { ExtractJwt } from 'passport-jwt';
import { recordAudit } from '../audit/writer';
import type { Config } from '../config';
import { unauthorized } from '../http/errors';
import { currentRequest } from '../http/request-context';
import type { AccessContext } from '../auth/access-context';
import { knownUserOf } from '../auth/authenticate';
import { VerifiedTokenCache } from '../auth/token-cache';

/**
 * Requires a valid bearer token on every route below it. A refused token gets 401 with
 * `WWW-Authenticate: Bearer`; when its signature was good (the user is known) the refusal is
 * audited in the clinic it named, otherwise as a server-level security event.
 */
/** Who the request context names as the caller (ids only: never PHI). */
const callerOf = (a: AccessContext) => ({ userId: a.userId, clinicId: a.clinicId, clientId: a.clientId, patientId: a.patientId });

export function requireToken(cfg: Config, pp: passport.Authenticator, db: Knex, cache = new VerifiedTokenCache()) {
  const bearer = ExtractJwt.fromAuthHeaderAsBearerToken();
  return (req: Request, res: Response, next: NextFunction): void => {
    const raw = bearer(req);
    const known = raw ? cache.get(raw) : undefined;
    if (known) {
      req.access = known;
      const info = currentRequest();
      if (info) info.caller = callerOf(known);
      return next();
    }
    pp.authenticate('jwt', { session: false }, (err: unknown, user: AccessContext | false, info: unknown) => {
      if (!err && user) {
        if (raw) cache.set(raw, user, decodeJwt(raw).exp);
        req.access = raw ? cache.get(raw) ?? user : user;
        const info = currentRequest();
        if (info) info.caller = callerOf(req.access);
        return next();
      }
      const failure = knownUserOf(cfg, req, err ?? info);
      const hadToken = /^Bearer\s+\S/i.test(req.headers.authorization ?? '');
      const audit = hadToken
        ? recordAudit(db, {
          interaction: 'login', action: 'E', outcome: '4', outcomeDesc: `token refused: ${failure.reason}`.slice(0, 200),
          clinicId: failure.knownUser?.clinicId ?? null, userId: failure.knownUser?.userId, clientId: failure.knownUser?.clientId,
          sourceIp: currentRequest()?.sourceIp,
        }).catch((e) => currentRequest()?.log.error({ err: e }, 'audit of a refused token failed'))
        : Promise.resolve();
      void audit.then(() => next(unauthorized(hadToken ? `Invalid bearer token: ${failure.reason}` : 'A bearer token is required')));
    })(req, res, next);
  };
}
