import { expect } from 'chai';
import { createUser } from '../../server/admin/tenancy';
import { actor, admin, api, FHIR, newClinic, patientBody, tokenFor } from '../helpers/server';
import { authEvents, decodeJwt, publicClient, urls } from '../oauth/helpers';
import { authorizationCode, exchange, refresh } from '../oauth/flows';
import { ScriptedBrowser } from '../oauth/scripted-browser';
import { adminCli, jsonOf } from '../helpers/cli';

const REDIRECT = 'http://127.0.0.1:9/patient-user/callback';

async function cli(...args: string[]) {
  const r = await adminCli(args, { BASE_URL: (await urls()).base });
  return { ...r, out: r.code === 0 ? jsonOf(r) : {}, raw: r.code === 0 ? r.stdout.trim() : '' };
}

async function fhirGet(token: string, p: string) {
  const res = await fetch(`${(await urls()).fhir}/${p}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

describe('Patients as users: a patient account signs in and every token of it is confined to its own record', function () {
  this.timeout(120_000);
  let clinic: string;
  let mine: string;
  let other: string;
  let account: { id: string; email: string; password: string; secret: string };

  before(async () => {
    const doctor = await actor('doctor');
    clinic = doctor.clinic;
    const create = async (family: string) => (await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody(family))).body.id as string;
    mine = await create('Own');
    other = await create('Someone-Else');
    const email = `patient.${Date.now()}@test.example`;
    const password = 'a patient password long enough';
    const created = await cli('user', 'create', '--clinic', clinic, '--email', email, '--role', 'patient', '--patient', mine, '--password', password, '--name', 'Pat Own');
    expect(created.code, created.stderr).to.equal(0);
    expect(created.out).to.include({ role: 'patient', patient: `Patient/${mine}`, password: 'set' });
    const mfa = await cli('user', 'mfa-enroll', '--user', String(created.out.id));
    account = { id: String(created.out.id), email, password, secret: String(mfa.out.secret) };
  });

  it('the admin CLI refuses a patient account without a Patient, or with a Patient the clinic does not hold', async () => {
    const elsewhere = await actor('doctor');
    const foreign = (await (await api()).post('/fhir/Patient').set(elsewhere.auth).set('Content-Type', FHIR).send(patientBody('Foreign'))).body.id as string;
    const refusedEmails = [`nolink.${Date.now()}@test.example`, `foreign.${Date.now()}@test.example`];
    const noLink = await cli('user', 'create', '--clinic', clinic, '--email', refusedEmails[0], '--role', 'patient');
    expect(noLink.code).to.equal(2);
    expect(noLink.stderr).to.match(/--role patient needs --patient/);
    const wrongClinic = await cli('user', 'create', '--clinic', clinic, '--email', refusedEmails[1], '--role', 'patient', '--patient', foreign);
    expect(wrongClinic.code).to.equal(2);
    expect(wrongClinic.stderr).to.match(new RegExp(`has no Patient ${foreign}`));
    const taken = await cli('user', 'create', '--clinic', clinic, '--email', `second.${Date.now()}@test.example`, '--role', 'patient', '--patient', mine);
    expect(taken.code).to.equal(2);
    expect(taken.stderr).to.match(/already linked/);
    // Nothing half-made: neither refused email became a member.
    expect(await (await admin())('app_user').whereIn('email', refusedEmails).count('* as n').first()).to.deep.equal({ n: '0' });
  });

  it('signs in with password and TOTP, asks for user/*.rs, and gets a token for its own Patient with patient/ scopes only', async () => {
    const clientId = await publicClient(clinic, REDIRECT);
    const browser = new ScriptedBrowser();
    const code = await authorizationCode(browser, account, clientId, REDIRECT, { over: { scope: 'openid fhirUser offline_access user/*.rs' } });
    expect(code.error).to.equal(null);
    const res = await exchange(clientId, REDIRECT, code.code, code.pkce.verifier);
    expect(res.status).to.equal(200);
    const body = res.json as Record<string, string>;
    expect(body.patient).to.equal(mine);
    expect(body.scope.split(' ')).to.include('patient/*.rs').and.not.include('user/*.rs');
    const claims = decodeJwt(body.access_token);
    expect(claims.fhirUser).to.equal(`${(await urls()).fhir}/Patient/${mine}`);
    expect(claims.patient).to.equal(mine);
    expect(claims.scope).to.equal('patient/*.rs');
    expect(decodeJwt(body.id_token).fhirUser).to.equal(`${(await urls()).fhir}/Patient/${mine}`);

    expect((await fhirGet(body.access_token, `Patient/${mine}`)).status).to.equal(200);
    expect((await fhirGet(body.access_token, `Patient/${other}`)).status).to.equal(404);
    const search = await fhirGet(body.access_token, 'Patient?_count=100');
    expect((search.body.entry as Array<{ resource: { id: string } }>).map((e) => e.resource.id)).to.deep.equal([mine]);

    // The refreshed token is confined the same way.
    const refreshed = await refresh(clientId, body.refresh_token);
    expect(refreshed.status).to.equal(200);
    expect(decodeJwt((refreshed.json as Record<string, string>).access_token)).to.include({ patient: mine, scope: 'patient/*.rs' });
    const issued = await authEvents(clinic, 'token');
    expect(issued.some((e) => JSON.stringify(e).includes('patient/*.rs') && !JSON.stringify(e).includes('user/*.rs'))).to.equal(true);
  });

  it('the admin CLI mints a patient account only its own Patient, with patient/ scopes', async () => {
    const token = await cli('token', '--clinic', clinic, '--user', account.id, '--scope', 'user/*.rs');
    expect(token.code, token.stderr).to.equal(0);
    const claims = decodeJwt(token.raw);
    expect(claims).to.include({ patient: mine, scope: 'patient/*.rs', fhirUser: `${(await urls()).fhir}/Patient/${mine}` });
    const another = await cli('token', '--clinic', clinic, '--user', account.id, '--scope', 'patient/*.rs', '--patient', other);
    expect(another.code).to.equal(2);
    expect(another.stderr).to.match(/cannot name another/);
  });

  it('a token that claims the whole clinic is still confined by the database to the account\'s own Patient', async () => {
    // Minted past every issuing check (as an external identity provider could): user/ scopes, no patient claim.
    const wide = { Authorization: `Bearer ${await tokenFor({ clinicId: clinic, userId: account.id, scope: 'user/*.rs' })}` };
    expect((await (await api()).get(`/fhir/Patient/${mine}`).set(wide)).status).to.equal(200);
    expect((await (await api()).get(`/fhir/Patient/${other}`).set(wide)).status).to.equal(404);
    const search = await (await api()).get('/fhir/Patient?_count=100').set(wide);
    expect((search.body.entry as Array<{ resource: { id: string } }>).map((e) => e.resource.id)).to.deep.equal([mine]);
  });

  it('the patient role can be given only to an account linked to a Patient', async () => {
    const staffEmail = `staff.${Date.now()}@test.example`;
    const staff = await createUser(await admin(), { clinicId: clinic, email: staffEmail, role: 'nurse' });
    const res = await cli('user', 'set-role', '--clinic', clinic, '--user', staff.id, '--role', 'patient');
    expect(res.code).to.equal(2);
    expect(res.stderr).to.match(/only for an account linked to a Patient/);
  });
});
