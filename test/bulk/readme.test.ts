import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startServerProcess } from '../../scripts/bench/server-process';

const ROOT = path.resolve(__dirname, '..', '..');
const sh = promisify(execFile);

function readmeBlock(heading: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error(`no sh block under ${heading}`);
  return m[1];
}

describe('README: Bulk Data', () => {
  it('the curl flow works as written: kick-off, poll, NDJSON download, DELETE, $everything', async function () {
    this.timeout(180_000); // a server process of its own starts first
    const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
    try {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root',
        DATA_DIR: server.dataDir, EMBEDDED_PG_PORT: String(server.pgPort), BASE_URL: server.url, BASE: server.url,
      };
      // "First request" makes the clinic, the token and a patient; the Bulk Data block follows in the same shell.
      const script = `${readmeBlock('## First request')}\necho\n${readmeBlock('## Bulk Data ($export) and Patient/$everything')}`;
      const { stdout } = await sh('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env });
      const lines = stdout.split('\n');
      const ndjson = lines.slice(1, -1).map((l) => JSON.parse(l) as { resourceType: string; id: string });
      expect(ndjson.map((r) => r.resourceType)).to.deep.equal(['Patient']);
      const everything = JSON.parse(lines[lines.length - 1]) as { type: string; entry: Array<{ resource: { resourceType: string; id: string } }> };
      expect(everything.type).to.equal('searchset');
      expect(everything.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`)).to.deep.equal([`Patient/${ndjson[0].id}`]);
    } finally {
      await server.stop();
    }
  });
});
