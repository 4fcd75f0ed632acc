import { expect } from 'chai';
import { startServerProcess } from '../../scripts/bench/server-process';
import { readmeBlock, runReadmeScript } from '../helpers/readme';

describe('README', () => {
  it('"First request" works as written against a server on any port (BASE and the server\'s settings given)', async () => {
    const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
    try {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root',
        DATA_DIR: server.dataDir, EMBEDDED_PG_PORT: String(server.pgPort), BASE_URL: server.url, BASE: server.url,
      };
      const { stdout } = await runReadmeScript(readmeBlock('## First request'), env);
      // The create's Patient, then the search's Bundle that finds it.
      const split = stdout.indexOf('{"resourceType":"Bundle"');
      expect(split, stdout.slice(0, 500)).to.be.greaterThan(0);
      const created = JSON.parse(stdout.slice(0, split)) as { resourceType: string; id: string };
      const found = JSON.parse(stdout.slice(split)) as { type: string; entry?: Array<{ resource: { id: string } }> };
      expect(created.resourceType).to.equal('Patient');
      expect(found.type).to.equal('searchset');
      expect((found.entry ?? []).map((e) => e.resource.id)).to.deep.equal([created.id]);
    } finally {
      await server.stop();
    }
  });
});
