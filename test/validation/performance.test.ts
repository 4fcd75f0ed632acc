// Start-up and per-request cost of validation, measured the way the server pays them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { validateResource, warmUpValidators } from '../../server/fhir/validation';
import { EXAMPLES_DIR, readJson } from './core-definitions';
import { patient } from './fixtures';

const VALIDATION = resolve(__dirname, '../../server/fhir/validation');

describe('validation: cost', function () {
  this.timeout(30_000);

  it('warms up (all five types and the usual contained types, plus profiles) in under 2 s in a fresh process', () => {
    const script = `
      const start = performance.now();
      const v = require(${JSON.stringify(VALIDATION)});
      const loaded = performance.now();
      v.warmUpValidators();
      console.log(JSON.stringify({ require: loaded - start, warmUp: performance.now() - loaded }));`;
    const run = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: resolve(__dirname, '../..'), encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    const { warmUp } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { require: number; warmUp: number };
    expect(warmUp).to.be.below(2000);
  });

  it('validates a typical Patient in well under 1 ms once warm', () => {
    warmUpValidators();
    const bodies = [patient(), readJson(join(EXAMPLES_DIR, 'Patient-example.json'))];
    for (const body of bodies) {
      for (let i = 0; i < 200; i++) validateResource(body, 'Patient');
      const runs = 2000;
      const start = performance.now();
      for (let i = 0; i < runs; i++) validateResource(body, 'Patient');
      expect((performance.now() - start) / runs).to.be.below(0.5);
    }
  });
});
