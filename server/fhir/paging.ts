import crypto from 'node:crypto';
import { badRequest } from '../http/errors';

/**
 * Page links carry a cursor bound to the clinic, the user and the exact query by an HMAC, so a
 * link copied to another clinic or user, or edited, is refused instead of replayed.
 */
export function signPage(secret: string, binding: { clinicId: string; userId: string; canonical: string }, offset: number): string {
  const body = Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
  return `${body}.${mac(secret, binding, body)}`;
}

export function verifyPage(secret: string, binding: { clinicId: string; userId: string; canonical: string }, token: string): number {
  const [body, sig] = token.split('.');
  if (!body || !sig) throw badRequest('_page is malformed');
  const expected = mac(secret, binding, body);
  if (sig.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) {
    throw badRequest('_page does not belong to this query, user or clinic');
  }
  try {
    const { o } = JSON.parse(Buffer.from(body, 'base64url').toString()) as { o: unknown };
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch { /* fall through */ }
  throw badRequest('_page is malformed');
}

function mac(secret: string, b: { clinicId: string; userId: string; canonical: string }, body: string): string {
  return crypto.createHmac('sha256', secret).update(`${b.clinicId}\n${b.userId}\n${b.canonical}\n${body}`).digest('base64url');
}

/** Query parameters in a stable order, as the cursor binds them. */
export function canonicalQuery(params: Array<[string, string]>): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
}
