// Shared mocha setup. Suites that need the database call `startTestServer()` from test/helpers.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';
