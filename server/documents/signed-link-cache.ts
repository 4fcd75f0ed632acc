/**
 * Per-process cache of signed GET links, so the same document read twice in a short window gets
 * the same URL and the browser can reuse its cached copy. A link is reused for at most
 * min(ttl/4, 5 min), so whoever receives it still has at least three quarters of its lifetime.
 * Safe to lose: a miss only signs a new link.
 */

export interface SignedLink {
  url: string;
  expiresAt: Date;
}

const MAX_REUSE_MS = 5 * 60 * 1000;

export class SignedLinkCache {
  private readonly byKey = new Map<string, Map<number, { link: SignedLink; reuseUntil: number }>>();

  constructor(private readonly maxKeys = 10_000) {}

  get(key: string, ttlSeconds: number, now = Date.now()): SignedLink | undefined {
    const entry = this.byKey.get(key)?.get(ttlSeconds);
    if (!entry) return undefined;
    if (now >= entry.reuseUntil) {
      this.byKey.get(key)?.delete(ttlSeconds);
      return undefined;
    }
    return entry.link;
  }

  set(key: string, ttlSeconds: number, signedAt: Date, link: SignedLink): void {
    const reuseUntil = signedAt.getTime() + Math.min((ttlSeconds * 1000) / 4, MAX_REUSE_MS);
    let perTtl = this.byKey.get(key);
    if (!perTtl) {
      // Map iteration is insertion order, so the first key is the oldest.
      if (this.byKey.size >= this.maxKeys) this.byKey.delete(this.byKey.keys().next().value as string);
      perTtl = new Map();
      this.byKey.set(key, perTtl);
    }
    perTtl.set(ttlSeconds, { link, reuseUntil });
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
