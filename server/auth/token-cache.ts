import type { AccessContext } from './access-context';

/**
 * Tokens whose signature and claims verified, by their exact text: a client reuses one token for
 * many requests, and verifying ES256 (plus exporting the key) costs more than the rest of a read.
 * An entry lives at most `ttlMs` and never past the token's `exp`; the oldest goes first when full.
 * Revocation is not cached: withClinic checks it on every request. Per process and safe to lose.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { access: AccessContext; until: number }>();

  constructor(private readonly maxEntries = 5000, private readonly ttlMs = 60_000) {}

  get(raw: string, now = Date.now()): AccessContext | undefined {
    const e = this.entries.get(raw);
    if (!e) return undefined;
    if (e.until <= now) { this.entries.delete(raw); return undefined; }
    return e.access;
  }

  /** Remembers a verified token; one without a numeric `exp` is never cached. */
  set(raw: string, access: AccessContext, exp: unknown, now = Date.now()): void {
    if (typeof exp !== 'number') return;
    const until = Math.min(now + this.ttlMs, exp * 1000);
    if (until <= now) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    // Shared by the requests that reuse the token: nobody may change it.
    this.entries.set(raw, { access: Object.freeze({ ...access, scopes: Object.freeze([...access.scopes]) }), until });
  }

  get size(): number { return this.entries.size; }
}
