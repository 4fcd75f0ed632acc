import { expect } from 'chai';
import knexFactory from 'knex';
import { assertSafeRuntimeLogin, runtimeUrl } from '../../db';
import { admin, testServer } from '../helpers/server';

describe('The runtime database login', () => {
  it('is not a superuser, not an owner, has no BYPASSRLS, and passes the start-up check', async () => {
    const s = await testServer();
    const { rows } = await s.db.runtime.raw('select rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = current_user');
    expect(rows[0]).to.deep.equal({ rolsuper: false, rolbypassrls: false, rolinherit: false });
    await assertSafeRuntimeLogin(s.db.runtime);
  });

  it('the server refuses to serve through a superuser login', async () => {
    const s = await testServer();
    const superuser = knexFactory({ client: 'pg', connection: s.db.adminUrl, pool: { min: 0, max: 1 } });
    try {
      let error: unknown;
      await assertSafeRuntimeLogin(superuser).catch((e) => { error = e; });
      expect(String(error)).to.match(/refusing to serve: .*superuser/);
    } finally {
      await superuser.destroy();
    }
  });

  it('the server refuses a login with BYPASSRLS or one that inherits the app role', async () => {
    const db = await admin();
    const s = await testServer();
    await db.raw("drop role if exists risky_login; create role risky_login login password 'risky-pass' bypassrls inherit in role fhir_app");
    const risky = knexFactory({ client: 'pg', connection: runtimeUrl(s.db.adminUrl, 'risky_login', 'risky-pass'), pool: { min: 0, max: 1 } });
    try {
      let error: unknown;
      await assertSafeRuntimeLogin(risky).catch((e) => { error = e; });
      expect(String(error)).to.match(/BYPASSRLS/);
      expect(String(error)).to.match(/without switching to the app role/);
    } finally {
      await risky.destroy();
      await db.raw('drop role risky_login');
    }
  });
});
