import { expect } from 'chai';
import { setRolePermissions } from '../../server/admin/tenancy';
import { auditEvents } from '../helpers/audit';
import { created, medicationRequestBody, newPatient } from '../helpers/resources';
import { actor, admin, api, newUser, tokenFor } from '../helpers/server';
import { breakGlass, operation, out } from '../care/helpers';
import { consoleGet, csrfOf, officer, sessionCookie } from './helpers';

type Auth = Record<string, string>;

async function bearer(clinicId: string, role: string): Promise<{ user: string; auth: Auth }> {
  const user = await newUser(clinicId, role);
  return { user, auth: { Authorization: `Bearer ${await tokenFor({ clinicId, userId: user, scope: 'user/*.cruds' })}` } };
}

async function decide(cookie: string, grant: string, form: Record<string, string>) {
  return (await api()).post(`/console/break-glass/${grant}/review`).set('Cookie', cookie).type('form').send(form).redirects(0);
}

/** A care-team clinic where a doctor broke the glass and read a prescription, and another grant was already reviewed. */
describe('Console: the break-glass review screen', function () {
  this.timeout(60_000);
  let clinic: string;
  let patient: string;
  let rx: string;
  let doctor: { user: string; auth: Auth };
  let grant: string;
  let reviewed: string;
  let o: Awaited<ReturnType<typeof officer>>;

  before(async () => {
    const a = await actor('clinic-admin');
    clinic = a.clinic;
    patient = await newPatient(a.auth, 'Glass');
    rx = await created(a.auth, 'MedicationRequest', medicationRequestBody(patient));
    expect((await operation(a.auth, '$set-access-policy', { policy: 'care-team' })).status).to.equal(200);
    doctor = await bearer(clinic, 'doctor');
    const res = await breakGlass(doctor.auth, patient);
    expect(res.status, res.text).to.equal(201);
    grant = out(res, 'grant') as string;
    expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(doctor.auth)).status).to.equal(200);
    const nurse = await bearer(clinic, 'nurse');
    reviewed = out(await breakGlass(nurse.auth, patient, { category: 'covering-clinician' }), 'grant') as string;
    o = await officer(clinic);
    const compliance = { Authorization: `Bearer ${await tokenFor({ clinicId: clinic, userId: o.user, scope: 'user/*.cruds' })}` };
    expect((await operation(compliance, `Patient/${patient}/$break-glass-review`, { grant: reviewed, decision: 'appropriate', note: 'Covering the night shift' })).status).to.equal(200);
  });

  it('lists the clinic\'s grants with pending reviews first, and filters by review status', async () => {
    const all = await consoleGet('/console/break-glass', o.cookie);
    expect(all.status, all.text).to.equal(200);
    const ids = [...all.text.matchAll(/href="\/console\/break-glass\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(ids).to.deep.equal([grant, reviewed]);
    const appropriate = await consoleGet('/console/break-glass?status=appropriate', o.cookie);
    expect(appropriate.text).to.include(reviewed).and.not.include(`/console/break-glass/${grant}`);
    const future = await consoleGet('/console/break-glass?from=2999-01-01', o.cookie);
    expect(future.text).to.include('No grants match');
  });

  it('refuses an unknown status or an impossible date with a readable message that does not echo the value', async () => {
    const bad = await consoleGet('/console/break-glass?status=<b>maybe</b>', o.cookie);
    expect(bad.status).to.equal(400);
    expect(bad.text).to.include('&quot;status&quot; must be one of').and.not.include('<b>maybe');
    expect((await consoleGet('/console/break-glass?from=2026-02-30', o.cookie)).status).to.equal(400);
  });

  it("a grant's page shows its reason, grantee, window, history and the prescription read under it", async () => {
    const res = await consoleGet(`/console/break-glass/${grant}`, o.cookie);
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.include('Unconscious on arrival, allergy history needed').and.include('emergency-treatment').and.include('(doctor)');
    const accesses = /<table id="accesses">([\s\S]*?)<\/table>/.exec(res.text)?.[1] ?? '';
    expect(accesses).to.include(`MedicationRequest/${rx}`);
    const history = [...res.text.matchAll(/<tr class="event ([a-z-]+)">/g)].map((m) => m[1]);
    expect(history).to.deep.equal(['requested', 'granted', 'first-use']);
    expect(res.text).to.include('id="decision"');
    expect((await consoleGet('/console/break-glass/00000000-0000-4000-8000-000000000000', o.cookie)).status).to.equal(404);
  });

  it('a decision from the console is the $break-glass-review: the grant is marked, and the privileged change shows old and new', async () => {
    const page = await consoleGet(`/console/break-glass/${grant}`, o.cookie);
    const res = await decide(o.cookie, grant, { csrf: csrfOf(page.text), patient, decision: 'inappropriate', note: 'No emergency recorded in the chart' });
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal(`/console/break-glass/${grant}`);
    const [g] = await (await admin())('break_glass_grant').where({ id: grant });
    expect(g).to.include({ review_status: 'inappropriate', review_note: 'No emergency recorded in the chart', reviewed_by: o.user });
    const [change] = await (await admin())('audit_event').where({ clinic_id: clinic, user_id: o.user, subtype: '110136' }).whereRaw("detail->>'grant' = ?", [grant]);
    expect(change.detail).to.deep.include({ old: '{"note":null,"review":"pending"}', new: '{"note":"No emergency recorded in the chart","review":"inappropriate"}' });
    const changes = await consoleGet('/console/changes', o.cookie);
    expect(changes.text).to.include(`/console/events/${change.id}`).and.include('&quot;inappropriate&quot;');
    const after = await consoleGet(`/console/break-glass/${grant}`, o.cookie);
    expect(after.text).to.include('class="review inappropriate"').and.include('<tr class="event reviewed">');
  });

  it('a bad decision is refused (422) and audited, and changes nothing', async () => {
    const page = await consoleGet(`/console/break-glass/${reviewed}`, o.cookie);
    const res = await decide(o.cookie, reviewed, { csrf: csrfOf(page.text), patient, decision: 'maybe' });
    expect(res.status).to.equal(422);
    expect(res.text).to.include('must be one of appropriate, inappropriate, needs-info');
    const [g] = await (await admin())('break_glass_grant').where({ id: reviewed });
    expect(g.review_status).to.equal('appropriate');
    const refusals = await auditEvents((q) => q.where({ clinic_id: clinic, user_id: o.user, outcome: '4' }).whereRaw("detail->>'operation' = '$break-glass-review'"));
    expect(refusals).to.have.length(1);
  });

  it('a forged form (bad CSRF token) is refused and audited, and the grant is unchanged', async () => {
    const res = await decide(o.cookie, reviewed, { csrf: 'forged', patient, decision: 'inappropriate' });
    expect(res.status).to.equal(403);
    const [g] = await (await admin())('break_glass_grant').where({ id: reviewed });
    expect(g.review_status).to.equal('appropriate');
    expect((await auditEvents((q) => q.where({ clinic_id: clinic, user_id: o.user, subtype: 'console-form', outcome: '4' })))).to.have.length(1);
  });

  it('a console user without compliance.breakGlass.review sees the grant read-only and is refused a decision (403, audited)', async () => {
    await setRolePermissions(await admin(), { clinicId: clinic, role: 'billing', permissions: { compliance: { auditEvents: { view: true, search: true } } } });
    const auditor = await officer(clinic, 'billing');
    const page = await consoleGet(`/console/break-glass/${reviewed}`, auditor.cookie);
    expect(page.status, page.text).to.equal(200);
    expect(page.text).to.not.include('id="decision"');
    expect(page.text).to.include('shown read-only');
    const res = await decide(auditor.cookie, reviewed, { csrf: csrfOf(page.text), patient, decision: 'inappropriate' });
    expect(res.status).to.equal(403);
    const [g] = await (await admin())('break_glass_grant').where({ id: reviewed });
    expect(g.review_status).to.equal('appropriate');
    expect(await auditEvents((q) => q.where({ clinic_id: clinic, user_id: auditor.user, outcome: '4' }).whereRaw("detail->>'operation' = '$break-glass-review'"))).to.have.length(1);
  });

  it("another clinic's officer finds none of these grants", async () => {
    const b = await officer((await actor('clinic-admin')).clinic);
    expect((await consoleGet('/console/break-glass', b.cookie)).text).to.include('No grants match');
    expect((await consoleGet(`/console/break-glass/${grant}`, b.cookie)).status).to.equal(404);
    expect((await decide(b.cookie, grant, { csrf: csrfOf((await consoleGet('/console', b.cookie)).text), patient, decision: 'appropriate' })).status).to.equal(404);
  });

  it('the overview counts the pending reviews and links to them', async () => {
    const fresh = await actor('clinic-admin');
    const p = await newPatient(fresh.auth, 'Pending');
    await breakGlass((await bearer(fresh.clinic, 'doctor')).auth, p);
    const { cookie } = sessionCookie(fresh.clinic, (await officer(fresh.clinic)).user);
    const res = await consoleGet('/console', cookie);
    expect(res.text).to.match(/<a href="\/console\/break-glass\?status=pending">Pending break-glass reviews<\/a><b>1<\/b>/);
  });
});
