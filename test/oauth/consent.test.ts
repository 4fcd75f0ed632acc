import { expect } from 'chai';
import { createUser } from '../../server/admin/tenancy';
import { actor, admin, api, newClinic } from '../helpers/server';
import { decodeJwt, publicClient, staffFixture } from './helpers';
import { authorizeUrl, exchange, pkce } from './flows';
import { consent, field, fields, formAction, ScriptedBrowser, signInPage } from './scripted-browser';

const REDIRECT = 'http://127.0.0.1:9/consent/callback';

describe('Consent: clinic picker, patient picker, and the audit trail a compliance officer searches', () => {
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let other: Awaited<ReturnType<typeof staffFixture>>;
  let clientId: string;
  let second: string;

  before(async () => {
    staff = await staffFixture('doctor');
    other = await staffFixture('doctor');
    clientId = await publicClient(staff.clinic, REDIRECT);
  });

  it('a user of several clinics picks one right after signing in, and the token is for that clinic', async () => {
    second = await newClinic('Second');
    await createUser(await admin(), { clinicId: second, email: staff.email, role: 'doctor' });
    const b = new ScriptedBrowser();
    const p = pkce();
    const login = await b.follow(await authorizeUrl(clientId, REDIRECT, p, { scope: 'openid fhirUser user/Patient.rs' }));
    const picker = await signInPage(b, login, staff);
    expect(picker.text).to.include('Choose a clinic');
    expect(fields(picker.text, 'clinic')).to.have.length(0);
    const options = [...picker.text.matchAll(/<option value="([^"]+)"/g)].map((m) => m[1]);
    expect(options).to.have.members([staff.clinic, second]);
    const page = await b.follow(`${picker.url.split('?')[0]}?clinic=${second}`);
    expect(field(page.text, 'clinic')).to.equal(second);
    const done = await consent(b, page, { stop: (u) => u.startsWith(REDIRECT) });
    const code = new URL(done.url).searchParams.get('code')!;
    const t = await exchange(clientId, REDIRECT, code, p.verifier);
    expect(decodeJwt(t.json.access_token as string).clinic).to.equal(second);
  });

  it('the patient picker lists only patients the user may see, and a forged choice is refused', async () => {
    const b = new ScriptedBrowser();
    const login = await b.follow(await authorizeUrl(clientId, REDIRECT, pkce()));
    const page = await signInPage(b, login, staff, { totpStep: 1 });
    // staff now belongs to two clinics: pick the first.
    const atClinic = page.text.includes('Choose a clinic') ? await b.follow(`${page.url.split('?')[0]}?clinic=${staff.clinic}`) : page;
    const listed = fields(atClinic.text, 'patient');
    expect(listed).to.include.members(staff.patients);
    expect(listed).to.not.include.members(other.patients);
    const forged = await b.request(formAction(atClinic.text, atClinic.url, '/consent'), { form: {
      csrf: field(atClinic.text, 'csrf') ?? '', clinic: staff.clinic, scope: fields(atClinic.text, 'scope'), patient: other.patients[0], decision: 'allow',
    } });
    expect(forged.status).to.equal(400);
    expect(forged.text).to.include('Choose a patient you may see');
  });

  it('a compliance officer finds sign-ins and token grants with a FHIR AuditEvent search', async () => {
    // The second clinic of the first test: the user signed in there and a token was issued there.
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs', second);
    const search = async (q: string) => (await (await api()).get(`/fhir/AuditEvent?${q}`).set(officer.auth)).body as { entry?: Array<{ resource: { outcome: string; outcomeDesc?: string } }> };
    const logins = await search(`subtype=${encodeURIComponent('http://dicom.nema.org/resources/ontology/DCM|110122')}`);
    expect(logins.entry?.some((e) => e.resource.outcome === '0')).to.equal(true);
    const grants = await search(`subtype=${encodeURIComponent('urn:clinic-fhir:oauth|token')}`);
    expect(grants.entry?.length).to.be.greaterThan(0);
  });
});
