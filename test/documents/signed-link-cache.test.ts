import { expect } from 'chai';
import { SignedLinkCache } from '../../server/documents/signed-link-cache';

describe('documents: signed link reuse window', () => {
  const key = 'clinics/k';
  const signedAt = new Date('2030-01-01T00:00:00Z');
  const t0 = signedAt.getTime();
  const link = (ttl: number) => ({ url: `https://store/x?ttl=${ttl}`, expiresAt: new Date(t0 + ttl * 1000) });

  it('reuses a link for a quarter of its lifetime, then signs anew', () => {
    const cache = new SignedLinkCache();
    cache.set(key, 600, signedAt, link(600));
    expect(cache.get(key, 600, t0 + 149_999)?.url).to.equal(link(600).url);
    expect(cache.get(key, 600, t0 + 150_000)).to.equal(undefined);
  });

  it('never reuses for more than five minutes, even for a one-hour link', () => {
    const cache = new SignedLinkCache();
    cache.set(key, 3600, signedAt, link(3600));
    expect(cache.get(key, 3600, t0 + 299_999)).to.not.equal(undefined);
    expect(cache.get(key, 3600, t0 + 300_000)).to.equal(undefined);
  });

  it('a link for one lifetime is not handed out for another', () => {
    const cache = new SignedLinkCache();
    cache.set(key, 3600, signedAt, link(3600));
    expect(cache.get(key, 60, t0)).to.equal(undefined);
  });

  it('forget drops every lifetime of a key, and the oldest key is evicted at capacity', () => {
    const cache = new SignedLinkCache(2);
    cache.set(key, 60, signedAt, link(60));
    cache.set(key, 600, signedAt, link(600));
    cache.forget(key);
    expect(cache.get(key, 60, t0)).to.equal(undefined);
    expect(cache.get(key, 600, t0)).to.equal(undefined);
    cache.set('a', 60, signedAt, link(60));
    cache.set('b', 60, signedAt, link(60));
    cache.set('c', 60, signedAt, link(60));
    expect(cache.get('a', 60, t0)).to.equal(undefined);
    expect(cache.get('c', 60, t0)).to.not.equal(undefined);
  });
});
