import crypto from 'node:crypto';
import type { Page } from 'playwright-core';
import { seal } from '../../server/oauth/secret-box';
import { CONSOLE_CLIENT_ID } from '../../server/oauth/first-party';
import type { ConsoleSession } from '../../server/console/session';
import { SESSION_COOKIE } from '../../server/console/session';
import { api, newUser } from '../helpers/server';
import { totp } from '../oauth/helpers';

/**
 * A console session cookie sealed the way the sign-in seals it, for the page tests that do not
 * drive a browser through the sign-in (test/console/browser.test.ts does).
 */
export function sessionCookie(clinicId: string, userId: string, over: Partial<ConsoleSession> = {}): { cookie: string; session: ConsoleSession } {
  const now = Date.now();
  const session: ConsoleSession = {
    sid: crypto.randomBytes(16).toString('base64url'), userId, clinicId, clientId: CONSOLE_CLIENT_ID, scope: 'openid fhirUser user/AuditEvent.rs',
    label: 'officer', signedInAt: now, seenAt: now, ...over,
  };
  return { cookie: `${SESSION_COOKIE}=${encodeURIComponent(seal(JSON.stringify(session), 'console-session'))}`, session };
}

/** A compliance officer of a clinic and their console cookie. */
export async function officer(clinicId: string, role = 'compliance-officer') {
  const user = await newUser(clinicId, role);
  return { user, ...sessionCookie(clinicId, user) };
}

export async function consoleGet(path: string, cookie: string) {
  return (await api()).get(path).set('Cookie', cookie).redirects(0);
}

/** The CSRF token the page's forms carry. */
export const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** Signs in to the console in a browser page: the staff sign-in's password and TOTP, then back to /console. */
export async function signInConsole(page: Page, base: string, who: { email: string; password: string; secret: string }): Promise<void> {
  await page.goto(`${base}/console`);
  await page.fill('#email', who.email);
  await page.fill('#password', who.password);
  await page.fill('#code', await totp(who.secret));
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname.startsWith('/console') && u.pathname !== '/console/login');
}
