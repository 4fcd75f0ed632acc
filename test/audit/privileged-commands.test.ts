import { expect } from 'chai';
import type { AuditEvent } from 'fhir/r4';
import { createOAuthClient, enrollMfa, setClientDisabled, setUserPassword } from '../../server/admin/oauth';
import { unlockUser } from '../../server/admin/lockout';
import { rotateSecretsKey } from '../../server/admin/secrets';
import { createClinic, createUser, setRolePermissions, setUserDisabled, setUserPractitioner, setUserRole } from '../../server/admin/tenancy';
import { SERVER_EVENTS_CLINIC } from '../../server/audit/record';
import { defaultRoles, grants } from '../../server/auth/permissions';
import { userSubject } from '../../server/oauth/throttle';
import { rotateSigningKey } from '../../server/oauth/signing-keys';
import { actor, admin, newClinic, newUser, testServer } from '../helpers/server';
import { created } from '../helpers/resources';
import { changedPaths, changeEvents, statesOf } from './privileged-helpers';

const OPS = { operator: 'ops@test-host' };

/** The one event of `entity` under `clinic` whose summary is `summary`. */
async function onlyEvent(clinic: string, entity: string, summary: string): Promise<AuditEvent & { id: string }> {
  const [type, id] = entity.split('/');
  const events = (await changeEvents({ clinic_id: clinic, entity_type: type, entity_id: id })).filter((e) => e.outcomeDesc === summary);
  expect(events, `${summary} of ${entity} in ${clinic}`).to.have.length(1);
  expect(events[0].agent[0].who?.display).to.equal(OPS.operator);
  return events[0];
}

const codes = (e: AuditEvent) => ({ subtype: e.subtype?.[0].code, action: e.action });

describe('Every privileged admin command writes its AuditEvent, with the right subtype and action', function () {
  this.timeout(60_000);

  it('clinic create: Software Configuration (110131), C, the clinic with its roles', async () => {
    const clinic = await createClinic(await admin(), `Audited clinic ${Date.now()}`, OPS);
    const e = await onlyEvent(clinic.id, `Clinic/${clinic.id}`, 'clinic created');
    expect(codes(e)).to.deep.equal({ subtype: '110131', action: 'C' });
    const { old, new: after } = statesOf(e);
    expect(old).to.equal(undefined);
    expect(after).to.deep.include({ id: clinic.id, name: clinic.name, active: true });
    expect(after?.roles).to.have.members(Object.keys(defaultRoles()));
  });

  it('user create: User Security Attributes Changed (110137), C; a user already elsewhere shows its state before the membership', async () => {
    const [a, b] = [await newClinic('Create A'), await newClinic('Create B')];
    const email = `audited.${Date.now()}@test.example`;
    const user = await createUser(await admin(), { clinicId: a, email, role: 'nurse' }, OPS);
    const first = await onlyEvent(a, `User/${user.id}`, 'user added to the clinic');
    expect(codes(first)).to.deep.equal({ subtype: '110137', action: 'C' });
    expect(statesOf(first).old).to.equal(undefined);
    expect(statesOf(first).new).to.deep.include({ id: user.id, email, disabled: false });
    expect(statesOf(first).new?.membership).to.deep.include({ clinicId: a, role: 'nurse', disabled: false });

    await createUser(await admin(), { clinicId: b, email, role: 'doctor' }, OPS);
    const second = await onlyEvent(b, `User/${user.id}`, 'user added to the clinic');
    expect(statesOf(second).old).to.deep.equal({ id: user.id, email, displayName: null, disabled: false });
    expect(changedPaths(statesOf(second).old, statesOf(second).new).every((p) => p.startsWith('membership.'))).to.equal(true);
    expect(statesOf(second).new?.membership).to.deep.include({ clinicId: b, role: 'doctor' });
  });

  it('user disable and enable: 110137, U, in every clinic of the user; with --clinic, on the membership of that clinic only', async () => {
    const [a, b] = [await newClinic('Disable A'), await newClinic('Disable B')];
    const email = `disable.${Date.now()}@test.example`;
    const { id } = await createUser(await admin(), { clinicId: a, email, role: 'nurse' });
    await createUser(await admin(), { clinicId: b, email, role: 'nurse' });

    await setUserDisabled(await admin(), { userId: id, disabled: true }, OPS);
    for (const clinic of [a, b]) {
      const e = await onlyEvent(clinic, `User/${id}`, 'user disabled in every clinic');
      expect(codes(e)).to.deep.equal({ subtype: '110137', action: 'U' });
      expect(statesOf(e)).to.deep.include({ old: { id, email, displayName: null, disabled: false } });
      expect(changedPaths(statesOf(e).old, statesOf(e).new)).to.deep.equal(['disabled']);
    }
    await setUserDisabled(await admin(), { userId: id, disabled: false }, OPS);
    expect(statesOf(await onlyEvent(b, `User/${id}`, 'user enabled in every clinic')).new?.disabled).to.equal(false);

    await setUserDisabled(await admin(), { userId: id, clinicId: a, disabled: true }, OPS);
    const m = await onlyEvent(a, `Membership/${id}`, 'membership disabled');
    expect(codes(m)).to.deep.equal({ subtype: '110137', action: 'U' });
    expect(changedPaths(statesOf(m).old, statesOf(m).new)).to.deep.equal(['disabled']);
    expect(await changeEvents({ clinic_id: b, entity_type: 'Membership', entity_id: id })).to.deep.equal([]);
    await setUserDisabled(await admin(), { userId: id, clinicId: a, disabled: false }, OPS);
    expect(codes(await onlyEvent(a, `Membership/${id}`, 'membership enabled'))).to.deep.equal({ subtype: '110137', action: 'U' });
  });

  it('user set-role: Security Roles Changed (110136), U, on the membership, only the role differs', async () => {
    const clinic = await newClinic('Set role');
    const userId = await newUser(clinic, 'nurse');
    await setUserRole(await admin(), { clinicId: clinic, userId, role: 'doctor' }, OPS);
    const e = await onlyEvent(clinic, `Membership/${userId}`, 'role changed');
    expect(codes(e)).to.deep.equal({ subtype: '110136', action: 'U' });
    expect(changedPaths(statesOf(e).old, statesOf(e).new)).to.deep.equal(['role']);
    expect(statesOf(e).new?.role).to.equal('doctor');
  });

  it('user set-practitioner: 110137, U, on the membership, the practitioner linked', async () => {
    const boss = await actor('clinic-admin');
    const practitioner = await created(boss.auth, 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Linked' }], active: true });
    const userId = await newUser(boss.clinic, 'doctor');
    await setUserPractitioner(await admin(), { clinicId: boss.clinic, userId, practitionerId: practitioner }, OPS);
    const e = await onlyEvent(boss.clinic, `Membership/${userId}`, 'practitioner linked');
    expect(codes(e)).to.deep.equal({ subtype: '110137', action: 'U' });
    expect(statesOf(e).old?.practitionerId).to.equal(null);
    expect(statesOf(e).new?.practitionerId).to.equal(practitioner);
  });

  it('user set-password: 110137, U, the password only as "changed", never its hash', async () => {
    const clinic = await newClinic('Password');
    const userId = await newUser(clinic, 'doctor');
    await setUserPassword(await admin(), userId, 'a long enough password', OPS);
    const e = await onlyEvent(clinic, `User/${userId}`, 'password set');
    expect(codes(e)).to.deep.equal({ subtype: '110137', action: 'U' });
    expect(statesOf(e).old?.password).to.equal(null);
    expect(statesOf(e).new?.password).to.equal('changed');
    const hash = (await (await admin())('user_credential').where({ user_id: userId }).first('password_hash')).password_hash as string;
    expect(JSON.stringify(e)).to.not.include(hash.slice(-20));
  });

  it('user mfa-enroll and user unlock: 110137, U; an unlock without a lock changes nothing and records nothing', async () => {
    const clinic = await newClinic('Unlock');
    const userId = await newUser(clinic, 'doctor');
    await enrollMfa(await admin(), userId, OPS);
    expect(codes(await onlyEvent(clinic, `User/${userId}`, 'TOTP enrolled'))).to.deep.equal({ subtype: '110137', action: 'U' });

    expect(await unlockUser(await admin(), userId, OPS)).to.deep.equal({ userId, unlocked: false });
    expect((await changeEvents({ clinic_id: clinic, entity_id: userId })).filter((e) => e.outcomeDesc === 'account unlocked by an operator')).to.deep.equal([]);
    await (await admin())('login_throttle').insert({ subject: userSubject(userId), failures: 5, window_started_at: new Date(), locked_until: new Date(Date.now() + 600_000) });
    expect(await unlockUser(await admin(), userId, OPS)).to.deep.equal({ userId, unlocked: true });
    const e = await onlyEvent(clinic, `User/${userId}`, 'account unlocked by an operator');
    expect(codes(e)).to.deep.equal({ subtype: '110137', action: 'U' });
    expect(statesOf(e)).to.deep.equal({ old: { userId, signInThrottle: { locked: true } }, new: { userId, signInThrottle: null } });
  });

  it('client create, disable and enable: Software Configuration (110131), C then U, under the client\'s clinic', async () => {
    const clinic = await newClinic('Client');
    const { clientId } = await createOAuthClient(await admin(), {
      clinicId: clinic, name: 'Audited App', type: 'public', redirectUris: ['https://app.example/cb'], scope: 'openid launch/patient patient/*.rs',
    }, OPS);
    const c = await onlyEvent(clinic, `OAuthClient/${clientId}`, 'client registered');
    expect(codes(c)).to.deep.equal({ subtype: '110131', action: 'C' });
    expect(statesOf(c).new).to.deep.include({ id: clientId, clinicId: clinic, name: 'Audited App', type: 'public', disabled: false });

    await setClientDisabled(await admin(), clientId, true, OPS);
    const d = await onlyEvent(clinic, `OAuthClient/${clientId}`, 'client disabled');
    expect(codes(d)).to.deep.equal({ subtype: '110131', action: 'U' });
    expect(changedPaths(statesOf(d).old, statesOf(d).new)).to.deep.equal(['disabled']);
    await setClientDisabled(await admin(), clientId, false, OPS);
    expect(codes(await onlyEvent(clinic, `OAuthClient/${clientId}`, 'client enabled'))).to.deep.equal({ subtype: '110131', action: 'U' });
  });

  it('key rotate and secrets rotate-key: 110131 with the server\'s own events (no clinic), no private key in the row', async () => {
    const { kid } = await rotateSigningKey(await admin(), 0, OPS);
    // The new key signs at once on this node too, as after any rotation (later tests rotate again from it).
    await (await testServer()).keyRing.reload();
    const key = await onlyEvent(SERVER_EVENTS_CLINIC, `SigningKey/${kid}`, 'signing key rotated');
    expect(codes(key)).to.deep.equal({ subtype: '110131', action: 'C' });
    expect(statesOf(key).new).to.deep.include({ kid, privateKey: 'changed' });
    const sealed = (await (await admin())('oauth_signing_key').where({ kid }).first('private_jwk')).private_jwk as string;
    expect(JSON.stringify(key)).to.not.include(sealed.slice(-40));

    const rotated = await rotateSecretsKey(await admin(), (await testServer()).cfg, OPS);
    const secrets = await onlyEvent(SERVER_EVENTS_CLINIC, `SecretsKey/${rotated.kid}`, 'secrets sealing key rotated');
    expect(codes(secrets)).to.deep.equal({ subtype: '110131', action: 'U' });
    expect(statesOf(secrets).old).to.deep.equal({ kid: 'retired' in rotated ? rotated.retired : null });
    expect(statesOf(secrets).new?.kid).to.equal(rotated.kid);
  });

  it('an event that cannot be written undoes the change it records', async () => {
    const clinic = await newClinic('Undone');
    const before = (await (await admin())('role').where({ clinic_id: clinic, name: 'nurse' }).first('permissions')).permissions as unknown;
    // PostgreSQL refuses a NUL character in jsonb: the event's insert fails after the role was updated in the same transaction.
    const failed = await setRolePermissions(await admin(), { clinicId: clinic, role: 'nurse', permissions: {} }, { operator: 'ops\u0000' }).then(() => null, (e: unknown) => e);
    expect(failed).to.be.instanceOf(Error);
    expect((failed as Error).message).to.match(/unicode|\\u0000/i);
    expect((await (await admin())('role').where({ clinic_id: clinic, name: 'nurse' }).first('permissions')).permissions).to.deep.equal(before);
    expect(await changeEvents({ clinic_id: clinic, subtype: '110136' })).to.deep.equal([]);
  });

  it('compliance officers and clinic admins hold compliance.auditEvents.verify by default, and no other role', () => {
    for (const [role, tree] of Object.entries(defaultRoles())) {
      expect(grants(tree, 'compliance.auditEvents.verify'), role).to.equal(role === 'compliance-officer' || role === 'clinic-admin');
    }
  });
});
