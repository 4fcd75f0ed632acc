import { expect } from 'chai';
import { startServerProcess } from '../../scripts/bench/server-process';
import { readmeBlock, runReadmeScript } from '../helpers/readme';

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
      const { stdout } = await runReadmeScript(script, env);
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
