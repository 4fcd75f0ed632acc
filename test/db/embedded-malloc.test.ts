import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { POSTGRES_MALLOC_ENV } from '../../db/embedded';
import { admin, testServer } from '../helpers/server';

/** The environment a process started with, as the kernel holds it. */
function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

describe('Embedded PostgreSQL: glibc keeps a backend\'s freed memory between requests', () => {
  it('the postmaster starts with the allocator settings (the operator\'s own values where given), which every backend it forks inherits', async () => {
    await testServer();
    const db = await admin();
    const { rows: [r] } = await db.raw(`select current_setting('data_directory') as dir`);
    // A backend overwrites its environment's memory with its process title; the postmaster keeps it, and glibc read it there before forking.
    const postmaster = Number(fs.readFileSync(path.join(r.dir as string, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const env = environOf(postmaster);
    for (const [k, v] of Object.entries(POSTGRES_MALLOC_ENV)) expect(env[k], k).to.equal(process.env[k] ?? v);
  });
});
