import { expect } from 'chai';
import { api } from '../helpers/server';
import { adminCli } from '../helpers/cli';

const cli = (...args: string[]) => adminCli(args);

describe('Admin CLI against the running server\'s database', () => {
  it('creates a clinic and a user, mints a token that the API accepts, and lists them', async () => {
    const clinic = JSON.parse((await cli('clinic', 'create', '--name', 'CLI Clinic')).stdout);
    expect(clinic.roles).to.include.members(['clinic-admin', 'doctor', 'nurse', 'front-desk', 'billing', 'pharmacist', 'compliance-officer']);
    const user = JSON.parse((await cli('user', 'create', '--clinic', clinic.id, '--email', `cli.${Date.now()}@test.example`, '--role', 'nurse')).stdout);
    const token = (await cli('token', '--clinic', clinic.id, '--user', user.id, '--scope', 'user/Patient.rs', '--ttl', '600')).stdout.trim();
    expect(token.split('.')).to.have.length(3);
    const res = await (await api()).get('/fhir/Patient').set('Authorization', `Bearer ${token}`);
    expect(res.status).to.equal(200);
    const users = JSON.parse((await cli('user', 'list', '--clinic', clinic.id)).stdout);
    expect(users.map((u: { id: string; role: string }) => [u.id, u.role])).to.deep.equal([[user.id, 'nurse']]);

    // A role change applies to the next request; a disabled user is refused at once.
    await cli('role', 'set-permissions', '--clinic', clinic.id, '--role', 'nurse', '--json', '{"clinical":{"patients":{"view":true}}}');
    expect((await (await api()).get('/fhir/Patient').set('Authorization', `Bearer ${token}`)).status).to.equal(403);
    await cli('user', 'set-role', '--clinic', clinic.id, '--user', user.id, '--role', 'doctor');
    expect((await (await api()).get('/fhir/Patient').set('Authorization', `Bearer ${token}`)).status).to.equal(200);
    expect((await cli('user', 'disable', '--user', user.id)).code).to.equal(0);
    expect((await (await api()).get('/fhir/Patient').set('Authorization', `Bearer ${token}`)).status).to.equal(403);
    const refused = await cli('token', '--clinic', clinic.id, '--user', user.id, '--scope', 'user/*.rs');
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/no active membership/);
  });

  for (const [args, message] of [
    [['user', 'create', '--clinic', 'nope', '--email', 'a@b.c', '--role', 'doctor'], /clinic id/],
    [['user', 'create', '--clinic', '00000000-0000-4000-8000-000000000000', '--email', 'a@b.c', '--role', 'doctor'], /no clinic/],
    [['clinic', 'create'], /--name is required/],
    [['role', 'set-permissions', '--clinic', '00000000-0000-4000-8000-000000000000', '--role', 'doctor', '--json', '{"clinical":{"patients":{"view":"yes"}}}'], /invalid permission tree/],
    [['token', '--clinic', '00000000-0000-4000-8000-000000000000', '--user', '00000000-0000-4000-8000-000000000000', '--scope', 'x', '--ttl', 'soon'], /--ttl/],
    [['launch', 'rockets'], /unknown command/],
  ] as const) {
    it(`refuses "${args.join(' ')}" with a clear error and exit code 2`, async () => {
      const r = await cli(...args);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(message);
      expect(r.stdout).to.equal('');
    });
  }
});
