import type { NextFunction, Request, Response } from 'express';
import type { RateLimitSettings } from '../config';
import { OperationOutcomeError, refusedAtEdge } from '../http/errors';
import { currentRequest } from '../http/request-context';

/**
 * API rate limits: fixed windows aligned to the clock, counted in this process's memory (a counter
 * in PostgreSQL would cost a round trip per request). Nodes behind a load balancer each count on
 * their own, so the limit a caller sees is the setting times the nodes it reaches; a restart forgets
 * the counts, which only ever lets a caller through sooner.
 *
 * Headers (IETF draft-ietf-httpapi-ratelimit-headers, separate-field form): `RateLimit-Limit`,
 * `RateLimit-Remaining`, `RateLimit-Reset` (seconds), `RateLimit-Policy`; a 429 adds `Retry-After`.
 */
export class FixedWindowCounter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  /** Counts one request for `key`; returns the count in the current window and the seconds until it ends. */
  hit(key: string): { count: number; resetSeconds: number } {
    const t = this.now();
    this.roll(t);
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return { count, resetSeconds: Math.max(1, Math.ceil(((this.window + 1) * this.windowMs - t) / 1000)) };
  }

  /** Gives back a request counted by hit() (an address's request that turned out to be authenticated). */
  refund(key: string): void {
    this.roll(this.now());
    const count = this.counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(key); else this.counts.set(key, count - 1);
  }

  // A new window starts with an empty map: memory holds only the callers of the current window.
  private roll(t: number): void {
    const w = Math.floor(t / this.windowMs);
    if (w !== this.window) { this.window = w; this.counts = new Map(); }
  }
}

function limitHeaders(limit: number, windowSeconds: number, count: number, resetSeconds: number): Record<string, string> {
  return {
    'RateLimit-Limit': String(limit),
    'RateLimit-Remaining': String(Math.max(0, limit - count)),
    'RateLimit-Reset': String(resetSeconds),
    'RateLimit-Policy': `${limit};w=${windowSeconds}`,
  };
}

function throttled(who: string, headers: Record<string, string>): OperationOutcomeError {
  return new OperationOutcomeError(429, {
    severity: 'error', code: 'throttled', diagnostics: `Too many requests ${who}: try again in ${headers['RateLimit-Reset']} seconds`,
  }, { ...headers, 'Retry-After': headers['RateLimit-Reset'] });
}

export interface RateLimiters {
  /** Before authentication: counts the request against its source address. */
  byAddress(req: Request, res: Response, next: NextFunction): void;
  /** After authentication: gives the address its request back and counts it against the user or client. */
  byCaller(req: Request, res: Response, next: NextFunction): void;
}

export function rateLimiters(settings: RateLimitSettings): RateLimiters {
  const windowMs = settings.windowSeconds * 1000;
  const addresses = new FixedWindowCounter(windowMs);
  const callers = new FixedWindowCounter(windowMs);
  const addressOf = (req: Request) => currentRequest()?.sourceIp ?? req.ip ?? 'unknown';
  return {
    byAddress(req, _res, next) {
      if (settings.perAddress === 0) return next();
      const { count, resetSeconds } = addresses.hit(addressOf(req));
      if (count <= settings.perAddress) return next();
      next(throttled('from this address', limitHeaders(settings.perAddress, settings.windowSeconds, count, resetSeconds)));
    },
    byCaller(req, res, next) {
      if (settings.perAddress !== 0) addresses.refund(addressOf(req));
      const a = req.access;
      if (settings.perUser === 0 || !a) return next();
      // A backend service has no user: its client is the caller.
      const key = a.userId ? `user:${a.userId}` : `client:${a.clientId ?? 'unknown'}`;
      const { count, resetSeconds } = callers.hit(key);
      const headers = limitHeaders(settings.perUser, settings.windowSeconds, count, resetSeconds);
      if (count <= settings.perUser) {
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
        return next();
      }
      // A known caller's refusal is audited (outcome 4) by the error handler, once.
      next(refusedAtEdge(throttled('for this user or client', headers)));
    },
  };
}
