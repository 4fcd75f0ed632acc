import { expect } from 'chai';
import { publicClient, staffFixture } from './helpers';
import { authorizeUrl, pkce } from './flows';
import { field, formAction, ScriptedBrowser } from './scripted-browser';

const REDIRECT = 'http://127.0.0.1:9/cookie/callback';

describe('Sign-in over plain http with Secure cookies (COOKIE_SECURE)', () => {
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let clientId: string;
  before(async () => {
    staff = await staffFixture('doctor');
    clientId = await publicClient(staff.clinic, REDIRECT);
  });

  /** A sign-in page in a browser that kept its cookies, and the form a browser would post from it. */
  async function signInForm() {
    const b = new ScriptedBrowser();
    const page = await b.follow(await authorizeUrl(clientId, REDIRECT, pkce()));
    expect(page.text).to.include('name="password"');
    const form = new URLSearchParams({ csrf: field(page.text, 'csrf') ?? '', email: staff.email, password: staff.password, code: '000000' });
    return { b, page, action: formAction(page.text, page.url, '/login'), form };
  }

  const post = (url: string, form: URLSearchParams, headers: Record<string, string> = {}) => fetch(url, {
    method: 'POST', redirect: 'manual', body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  });

  it('a browser that dropped the Secure cookies (plain http, not localhost) is told so, with COOKIE_SECURE named', async () => {
    const { page, action, form } = await signInForm();
    const res = await post(action, form);
    expect(res.status).to.equal(400);
    const text = await res.text();
    expect(text).to.include('COOKIE_SECURE=false').and.to.include('plain http');
    expect(text).to.not.include('has expired');
    // The page itself, opened without its cookie, says the same.
    const get = await fetch(page.url, { redirect: 'manual' });
    expect(await get.text()).to.include('COOKIE_SECURE');
  });

  it('over https (behind a proxy) a missing cookie is an expired page, and so is another interaction\'s cookie', async () => {
    const { action, form } = await signInForm();
    const overHttps = await post(action, form, { 'X-Forwarded-Proto': 'https' });
    expect(overHttps.status).to.equal(400);
    const text = await overHttps.text();
    expect(text).to.include('has expired').and.to.not.include('COOKIE_SECURE');

    const other = await signInForm();
    const cookies = other.b.cookieNames();
    expect(cookies).to.include('_interaction');
    const wrong = await other.b.request(action, { form: Object.fromEntries(form) });
    expect(wrong.status).to.equal(400);
    expect(wrong.text).to.include('has expired').and.to.not.include('COOKIE_SECURE');
  });
});
