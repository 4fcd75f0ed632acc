import { totp } from './helpers';

/**
 * A scripted browser over real HTTP: a cookie jar (by name; loopback hosts treated as secure, as
 * browsers do), manual redirects, and form posts. `headers` may set X-Forwarded-For, which the
 * server trusts from loopback, to act as another source address.
 */
export class ScriptedBrowser {
  private readonly jar = new Map<string, string>();
  constructor(private readonly headers: Record<string, string> = {}) {}

  async request(url: string, init: { method?: string; form?: Record<string, string | string[]> } = {}) {
    const body = init.form ? new URLSearchParams(Object.entries(init.form).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]))) : undefined;
    const res = await fetch(url, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        ...this.headers,
        ...(this.jar.size ? { Cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        Accept: 'text/html,application/json',
      },
      body,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a) || /max-age=0/i.test(a.trim()));
      if (expired) this.jar.delete(name); else this.jar.set(name, pair.slice(eq + 1).trim());
    }
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), url, headers: res.headers };
  }

  /** Follows redirects from `url` until a page (non-3xx) or a URL `stop` accepts. */
  async follow(url: string, stop: (u: string) => boolean = () => false) {
    let current = url;
    for (let hops = 0; hops < 15; hops++) {
      if (stop(current)) return { status: 0, location: null, text: '', url: current };
      const r = await this.request(current);
      if (r.status < 300 || r.status >= 400 || !r.location) return r;
      current = new URL(r.location, current).toString();
    }
    throw new Error('too many redirects');
  }

  async submit(url: string, form: Record<string, string | string[]>, stop?: (u: string) => boolean) {
    const r = await this.request(url, { form });
    if (r.status >= 300 && r.status < 400 && r.location) return this.follow(new URL(r.location, url).toString(), stop);
    return r;
  }

  cookieNames(): string[] {
    return [...this.jar.keys()];
  }
}

export const field = (html: string, name: string): string | undefined => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
export const fields = (html: string, name: string): string[] => [...html.matchAll(new RegExp(`name="${name}" value="([^"]*)"`, 'g'))].map((m) => m[1]);
export const formAction = (html: string, page: string, path: string): string => new URL(new RegExp(`action="([^"]*${path})"`).exec(html)![1], page).toString();

export interface Staff { email: string; password: string; secret: string }

/** Fills the sign-in form; returns the next page (consent, clinic picker, or the form again on failure). */
export async function signInPage(b: ScriptedBrowser, page: { text: string; url: string }, who: Staff, opts: { code?: string; totpStep?: number; stop?: (u: string) => boolean } = {}) {
  return b.submit(formAction(page.text, page.url, '/login'), {
    csrf: field(page.text, 'csrf') ?? '', email: who.email, password: who.password, code: opts.code ?? await totp(who.secret, opts.totpStep ?? 0),
  }, opts.stop);
}

/** Allows on the consent page (optionally unticking scopes and picking a patient); follows to `stop`. */
export async function consent(b: ScriptedBrowser, page: { text: string; url: string }, opts: { untick?: string[]; patient?: string; decision?: 'allow' | 'deny'; stop: (u: string) => boolean }) {
  const scopes = fields(page.text, 'scope').map((s) => s.replace(/&#39;/g, "'").replace(/&amp;/g, '&')).filter((s) => !(opts.untick ?? []).includes(s));
  const patients = fields(page.text, 'patient');
  return b.submit(formAction(page.text, page.url, '/consent'), {
    csrf: field(page.text, 'csrf') ?? '', clinic: field(page.text, 'clinic') ?? '', scope: scopes,
    ...(patients.length ? { patient: opts.patient ?? patients[0] } : {}), decision: opts.decision ?? 'allow',
  }, opts.stop);
}
