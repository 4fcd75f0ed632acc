import crypto from 'node:crypto';
import type { Request, Response } from 'express';

const COOKIE = 'oauth_csrf';

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const mac = (secret: string, nonce: string, uid: string): string =>
  crypto.createHmac('sha256', secret).update(`${nonce}:${uid}`).digest('base64url');

/**
 * Double-submit CSRF token bound to the interaction: a random nonce in a strict same-site cookie,
 * and HMAC(secret, nonce:uid) in the form. A forged cross-site POST has neither.
 */
export function issueCsrf(req: Request, res: Response, secret: string, uid: string, secure: boolean): string {
  let nonce = readCookie(req, COOKIE);
  if (!nonce || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) {
    nonce = crypto.randomBytes(32).toString('base64url');
    res.cookie(COOKIE, nonce, { httpOnly: true, secure, sameSite: 'strict', path: '/oauth/interaction' });
  }
  return mac(secret, nonce, uid);
}

export function checkCsrf(req: Request, secret: string, uid: string, submitted: unknown): boolean {
  const nonce = readCookie(req, COOKIE);
  if (!nonce || typeof submitted !== 'string') return false;
  const expected = Buffer.from(mac(secret, nonce, uid));
  const got = Buffer.from(submitted);
  return got.length === expected.length && crypto.timingSafeEqual(got, expected);
}
