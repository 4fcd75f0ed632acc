// Shared mocha setup: one real server (embedded PostgreSQL 17, real RLS) for the whole run,
// started lazily by the first suite that asks for it and stopped at the end.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';

import { stopTestServer } from './helpers/server';
import { closeOAuthServer } from './oauth/helpers';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await closeOAuthServer();
    await stopTestServer();
  },
};
