import { expect } from 'chai';
import { createUser } from '../../server/admin/tenancy';
import { setUserPassword, unlockUser } from '../../server/admin/oauth';
import { providerConfiguration } from '../../server/oauth/provider';
import { admin, testServer } from '../helpers/server';
import { authEvents, oauthServer, publicClient, staffFixture, urls } from './helpers';
import { authorizeUrl, pkce } from './flows';
import { field, formAction, ScriptedBrowser, signInPage } from './scripted-browser';

const REDIRECT = 'http://127.0.0.1:9/signin/callback';
const GENERIC = 'Sign-in failed. Check your email, password and one-time code, or try again later.';
let addressCounter = 10;
/** A browser at its own source address (X-Forwarded-For, trusted from loopback). */
const browserAt = () => new ScriptedBrowser({ 'X-Forwarded-For': `198.51.100.${addressCounter++}` });

describe('Staff sign-in: password, TOTP, lockout, CSRF, session and sign-out', () => {
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let clientId: string;

  before(async () => {
    staff = await staffFixture('doctor');
    clientId = await publicClient(staff.clinic, REDIRECT);
  });

  const loginPage = async (b: ScriptedBrowser) => {
    const page = await b.follow(await authorizeUrl(clientId, REDIRECT, pkce()));
    expect(page.text).to.include('name="password"');
    return page;
  };

  it('a wrong password, a wrong code and an unknown email all get the same generic text, each audited with its reason', async () => {
    const b = browserAt();
    const page = await loginPage(b);
    const wrongPassword = await signInPage(b, page, { ...staff, password: 'not the password at all' });
    const wrongCode = await signInPage(b, wrongPassword, { ...staff }, { code: '000000' });
    const unknown = await signInPage(b, wrongCode, { ...staff, email: 'nobody@nowhere.example' });
    for (const r of [wrongPassword, wrongCode, unknown]) {
      expect(r.status).to.equal(401);
      expect(r.text).to.include(GENERIC);
    }
    const reasons = (await authEvents(staff.clinic, 'login')).filter((e) => e.outcome === '4').map((e) => e.reason);
    expect(reasons).to.include.members(['sign-in failed: wrong password', 'sign-in failed: wrong or reused one-time code']);
    expect((await authEvents(null, 'login')).some((e) => e.reason === 'sign-in failed: unknown account')).to.equal(true);
  });

  it('a form posted without its CSRF token (or with another page\'s) is refused', async () => {
    const b = browserAt();
    const page = await loginPage(b);
    const action = formAction(page.text, page.url, '/login');
    const form = { email: staff.email, password: staff.password, code: '123456' };
    expect((await b.request(action, { form })).status).to.equal(403);
    expect((await b.request(action, { form: { ...form, csrf: 'x'.repeat(43) } })).status).to.equal(403);
    const other = await loginPage(browserAt());
    expect((await b.request(action, { form: { ...form, csrf: field(other.text, 'csrf') ?? '' } })).status).to.equal(403);
  });

  it('5 failures lock the account for 15 minutes (not the address: see lockout.test.ts); the admin unlock lifts the account lock', async () => {
    const victim = await staffFixture('doctor', staff.clinic);
    const attacker = browserAt();
    let page = await loginPage(attacker);
    for (let i = 0; i < 5; i++) page = await signInPage(attacker, page, { ...victim, password: `wrong password ${i}` });
    // Right password and code now: still refused, with the same text.
    const locked = await signInPage(attacker, page, victim);
    expect(locked.status).to.equal(401);
    expect(locked.text).to.include(GENERIC);
    // From another address the account is still locked...
    const elsewhere = browserAt();
    const refused = await signInPage(elsewhere, await loginPage(elsewhere), victim, { totpStep: 1 });
    expect(refused.text).to.include(GENERIC);
    const trail = await authEvents(staff.clinic, 'lockout');
    expect(trail.map((e) => e.reason)).to.include('account locked for 15 minutes after 5 failed sign-ins');
    expect((await authEvents(staff.clinic, 'login')).some((e) => e.reason === 'sign-in failed: account locked out')).to.equal(true);

    expect((await unlockUser(await admin(), victim.user)).unlocked).to.equal(true);
    const ok = await signInPage(elsewhere, await loginPage(elsewhere), victim, { totpStep: 1 });
    expect(ok.text).to.include('Allow access?');
    // ...while five failures are far below the address limit: another account signs in from the same address.
    const other = await signInPage(attacker, await loginPage(attacker), staff);
    expect(other.text).to.include('Allow access?');
  });

  it('a user without enrolled TOTP cannot sign in while MFA is required', async () => {
    const email = `nomfa.${Date.now()}@test.example`;
    const user = await createUser(await admin(), { clinicId: staff.clinic, email, role: 'doctor' });
    await setUserPassword(await admin(), user.id, 'a long enough password');
    const b = browserAt();
    const r = await signInPage(b, await loginPage(b), { email, password: 'a long enough password', secret: '' }, { code: '' });
    expect(r.text).to.include(GENERIC);
    expect((await authEvents(staff.clinic, 'login')).some((e) => e.reason === 'sign-in failed: MFA required but not enrolled')).to.equal(true);
  });

  it('the session cookie is httpOnly, Secure and SameSite, idles out after 15 minutes and ends by 12 hours', async () => {
    const b = browserAt();
    const user = await staffFixture('doctor', staff.clinic);
    const consentPage = await signInPage(b, await loginPage(b), user);
    const res = await b.request(formAction(consentPage.text, consentPage.url, '/consent'), { form: {
      csrf: field(consentPage.text, 'csrf') ?? '', clinic: field(consentPage.text, 'clinic') ?? '', scope: 'openid', decision: 'allow',
    } });
    const resumed = await b.request(new URL(res.location!, consentPage.url).toString());
    const session = resumed.headers.getSetCookie().find((c) => c.startsWith('_session='));
    expect(session, resumed.headers.getSetCookie().join('\n')).to.be.a('string');
    expect(session).to.match(/httponly/i).and.match(/secure/i).and.match(/samesite=lax/i);
    const expires = Date.parse(/expires=([^;]+)/i.exec(session!)![1]);
    expect(expires - Date.now()).to.be.within(14 * 60_000, 15 * 60_000 + 5000);

    const { cfg } = await oauthServer();
    const s = await testServer();
    const ttl = (providerConfiguration({ cfg, db: s.db.runtime, keys: s.keyRing, cookieKeys: ['k'.repeat(32)] }).ttl as { Session: (ctx: unknown, sess: { loginTs?: number }) => number }).Session;
    const now = Math.floor(Date.now() / 1000);
    expect(ttl(undefined, { loginTs: now })).to.equal(900);
    expect(ttl(undefined, { loginTs: now - 12 * 3600 + 60 })).to.equal(60);
    expect(ttl(undefined, { loginTs: now - 13 * 3600 })).to.equal(1);
  });

  it('sign-out ends the session and is audited', async () => {
    const b = browserAt();
    const user = await staffFixture('doctor', staff.clinic);
    const page = await signInPage(b, await loginPage(b), user);
    const done = await b.submit(formAction(page.text, page.url, '/consent'), {
      csrf: field(page.text, 'csrf') ?? '', clinic: field(page.text, 'clinic') ?? '', scope: 'openid', decision: 'allow',
    }, (u) => u.startsWith(REDIRECT));
    expect(done.url.startsWith(REDIRECT)).to.equal(true);
    const { base } = await urls();
    const confirm = await b.request(`${base}/oidc/session/end`);
    expect(confirm.status).to.equal(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)?.[1];
    const out = await b.submit(`${base}/oidc/session/end/confirm`, { xsrf: xsrf ?? '', logout: 'yes' });
    expect(out.text).to.include('You are signed out');
    expect((await authEvents(staff.clinic, 'logout')).some((e) => e.outcome === '0')).to.equal(true);
    // Signed out: the next authorization asks for the password again.
    expect((await b.follow(await authorizeUrl(clientId, REDIRECT, pkce()))).text).to.include('name="password"');
  });
});
