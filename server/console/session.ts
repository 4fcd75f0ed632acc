import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import type { AccessContext } from '../auth/access-context';
import { parseScopes } from '../auth/scopes';
import { readCookie } from '../oauth/csrf';
import { seal, unseal } from '../oauth/secret-box';

/**
 * The console's session: a cookie sealed with the server's secrets key (AES-GCM, secret-box.ts), so
 * any worker or node reads it and nothing is kept in process memory. It idles out after 15 minutes
 * (each page view slides it) and ends 12 hours after sign-in whatever happens.
 */
export const SESSION_COOKIE = 'console_session';
export const LOGIN_COOKIE = 'console_login';
const PURPOSE = 'console-session';
export const IDLE_MS = 15 * 60_000;
const ABSOLUTE_MS = 12 * 3600_000;

export interface ConsoleSession {
  /** Random per sign-in: CSRF tokens are bound to it. */
  sid: string;
  userId: string;
  clinicId: string;
  tokenId?: string;
  clientId?: string;
  fhirUser?: string;
  scope: string;
  label: string;
  signedInAt: number;
  seenAt: number;
}

const cookieOptions = (secure: boolean, maxAgeMs: number) => ({ httpOnly: true, secure, sameSite: 'strict' as const, path: '/console', maxAge: maxAgeMs });

/** The sealed cookie value of a session (the benchmark seals its own with the server's key). */
export const sealSession = (s: ConsoleSession): string => seal(JSON.stringify(s), PURPOSE);

export function writeSession(res: Response, s: ConsoleSession, secure: boolean): void {
  res.cookie(SESSION_COOKIE, sealSession(s), cookieOptions(secure, IDLE_MS));
}

export function clearSession(res: Response, secure: boolean): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, secure, sameSite: 'strict', path: '/console' });
}

/** The live session of the request, or why there is none. */
export function readSession(req: Request, now = Date.now()): ConsoleSession | 'none' | 'expired' {
  const raw = readCookie(req, SESSION_COOKIE);
  if (!raw) return 'none';
  let s: ConsoleSession;
  try { s = JSON.parse(unseal(raw, PURPOSE)) as ConsoleSession; } catch { return 'none'; }
  if (typeof s.seenAt !== 'number' || now - s.seenAt > IDLE_MS || now - s.signedInAt > ABSOLUTE_MS) return 'expired';
  return s;
}

/** Who the session acts as: the same AccessContext the API builds from the token it was started with. */
export function accessOf(s: ConsoleSession): AccessContext {
  return {
    userId: s.userId, clinicId: s.clinicId, clientId: s.clientId, fhirUser: s.fhirUser, tokenId: s.tokenId,
    revocable: s.tokenId !== undefined, scopes: parseScopes(s.scope).resource, scopeText: s.scope,
  };
}

/** The sign-in in progress (state and PKCE verifier), sealed, for ten minutes. */
export interface PendingLogin { state: string; verifier: string; next: string; at: number }
export function writePendingLogin(res: Response, p: PendingLogin, secure: boolean): void {
  res.cookie(LOGIN_COOKIE, seal(JSON.stringify(p), `${PURPOSE}-login`), { httpOnly: true, secure, sameSite: 'lax', path: '/console', maxAge: 10 * 60_000 });
}
export function readPendingLogin(req: Request): PendingLogin | undefined {
  const raw = readCookie(req, LOGIN_COOKIE);
  if (!raw) return undefined;
  try {
    const p = JSON.parse(unseal(raw, `${PURPOSE}-login`)) as PendingLogin;
    return Date.now() - p.at < 10 * 60_000 ? p : undefined;
  } catch { return undefined; }
}

/**
 * CSRF token of a form: issued-at and HMAC(secret, sid:issued-at). A token of another session, an
 * edited one, or one older than the idle timeout is refused.
 */
export function csrfToken(secret: string, s: ConsoleSession, now = Date.now()): string {
  const at = String(now);
  return `${at}.${crypto.createHmac('sha256', secret).update(`console:${s.sid}:${at}`).digest('base64url')}`;
}

export function csrfValid(secret: string, s: ConsoleSession, submitted: unknown, now = Date.now()): boolean {
  if (typeof submitted !== 'string' || !/^\d{1,16}\.[A-Za-z0-9_-]{43}$/.test(submitted)) return false;
  const [at] = submitted.split('.');
  if (now - Number(at) > IDLE_MS || Number(at) > now + 60_000) return false;
  const expected = Buffer.from(csrfToken(secret, s, Number(at)));
  return crypto.timingSafeEqual(expected, Buffer.from(submitted));
}
