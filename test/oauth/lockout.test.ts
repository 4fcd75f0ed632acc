import { SERVER_EVENTS_CLINIC } from '../../server/audit/record';
import { expect } from 'chai';
import { auditEvents } from '../helpers/audit';
import { authEvents, closeOAuthServer, oauthServer, publicClient, staffFixture } from './helpers';
import { authorizeUrl, pkce } from './flows';
import { ScriptedBrowser, signInPage } from './scripted-browser';
import { adminCli } from '../helpers/cli';

const REDIRECT = 'http://127.0.0.1:9/lockout/callback';
const GENERIC = 'Sign-in failed. Check your email, password and one-time code, or try again later.';
const ADDRESS_LIMIT = 8;

let addressCounter = 10;
/** A clinic's NAT: every browser behind it shares one source address. */
const natAddress = () => `192.0.2.${addressCounter++}`;
const behind = (address: string) => new ScriptedBrowser({ 'X-Forwarded-For': address });

const cli = (...args: string[]) => adminCli(args);

describe('Sign-in lockout that fits a clinic behind one address (NAT)', () => {
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let clientId: string;

  before(async () => {
    // This file's authorization server has a small address limit; the next file gets the default one back.
    await closeOAuthServer();
    await oauthServer({ SIGNIN_ADDRESS_LIMIT: String(ADDRESS_LIMIT) });
    staff = await staffFixture('doctor');
    clientId = await publicClient(staff.clinic, REDIRECT);
  });
  after(closeOAuthServer);

  const loginPage = async (b: ScriptedBrowser) => b.follow(await authorizeUrl(clientId, REDIRECT, pkce()));

  it('5 wrong passwords lock that account, while a colleague behind the same address still signs in', async () => {
    const nat = natAddress();
    const careless = await staffFixture('nurse', staff.clinic);
    const colleague = await staffFixture('doctor', staff.clinic);
    const b = behind(nat);
    let page = await loginPage(b);
    for (let i = 0; i < 5; i++) page = await signInPage(b, page, { ...careless, password: `wrong password ${i}` });
    const locked = await signInPage(b, page, careless);
    expect(locked.status).to.equal(401);
    expect(locked.text).to.include(GENERIC);
    expect((await authEvents(staff.clinic, 'login')).some((e) => e.event.agent?.some((a) => a.who?.identifier?.value === careless.user) && e.reason === 'sign-in failed: account locked out')).to.equal(true);

    const other = behind(nat);
    const ok = await signInPage(other, await loginPage(other), colleague);
    expect(ok.text).to.include('Allow access?');
  });

  it(`the address locks after SIGNIN_ADDRESS_LIMIT (${ADDRESS_LIMIT}) failures from any accounts, and "admin address unlock" lifts it, audited`, async () => {
    const nat = natAddress();
    const b = behind(nat);
    let page = await loginPage(b);
    for (let i = 0; i < ADDRESS_LIMIT - 1; i++) page = await signInPage(b, page, { ...staff, email: `nobody${i}@nowhere.example` });
    // One below the limit the address still works...
    const below = behind(nat);
    const colleague = await staffFixture('doctor', staff.clinic);
    expect((await signInPage(below, await loginPage(below), colleague)).text).to.include('Allow access?');
    // ...the limit-th failure locks it, for every account behind it.
    await signInPage(b, page, { ...staff, email: 'nobody.last@nowhere.example' });
    expect((await authEvents(null, 'lockout')).map((e) => e.reason)).to.include(`source address locked for 15 minutes after ${ADDRESS_LIMIT} failed sign-ins`);
    const d = behind(nat);
    expect((await signInPage(d, await loginPage(d), staff)).text).to.include(GENERIC);
    expect((await authEvents(staff.clinic, 'login')).some((e) => e.reason === 'sign-in failed: source address locked out')).to.equal(true);

    const unlocked = await cli('address', 'unlock', '--address', nat);
    expect(unlocked.code, unlocked.stderr).to.equal(0);
    expect(JSON.parse(unlocked.stdout)).to.deep.equal({ address: nat, unlocked: true });
    const e = behind(nat);
    expect((await signInPage(e, await loginPage(e), staff, { totpStep: 1 })).text).to.include('Allow access?');

    const audit = await auditEvents((q) => q.where({ subtype: 'unlock' }).where({ clinic_id: SERVER_EVENTS_CLINIC }));
    expect(audit.map((a) => a.outcomeDesc)).to.include(`source address ${nat} unlocked by an operator`);
    expect(audit.every((a) => a.outcome === '0')).to.equal(true);
  });

  it('"admin address unlock" refuses what is not an address, and says when there was no lock', async () => {
    const bad = await cli('address', 'unlock', '--address', '1.2.3.4; drop table');
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--address must be an IPv4 or IPv6 address/);
    const none = await cli('address', 'unlock', '--address', '2001:db8::1');
    expect(JSON.parse(none.stdout)).to.deep.equal({ address: '2001:db8::1', unlocked: false });
  });

  it('"admin user unlock" is audited in the clinic of the account it unlocks', async () => {
    const user = await staffFixture('nurse', staff.clinic);
    const b = behind(natAddress());
    let page = await loginPage(b);
    for (let i = 0; i < 5; i++) page = await signInPage(b, page, { ...user, password: `wrong ${i}` });
    const unlocked = await cli('user', 'unlock', '--user', user.user);
    expect(unlocked.code, unlocked.stderr).to.equal(0);
    expect(JSON.parse(unlocked.stdout)).to.deep.equal({ userId: user.user, unlocked: true });
    const audit = await auditEvents((q) => q.where({ type: 'security', subtype: '110137', clinic_id: staff.clinic, entity_type: 'User', entity_id: user.user }));
    expect(audit.map((a) => a.outcomeDesc).filter((d) => d?.includes('unlocked'))).to.deep.equal(['account unlocked by an operator']);
  });
});
