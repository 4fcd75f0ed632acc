import { expect } from 'chai';
import { sealCostLines, sealCosts, type SealRun } from '../../scripts/bench/seal-cost';

const run = (seal: boolean, key: string, round: number, rps: number, cpu?: number): SealRun =>
  ({ seal, key, round, rps, errors: 0, errorSamples: [], ...(cpu === undefined ? {} : { cpuMsPerRequest: cpu }) });

describe('bench: what the seal costs', () => {
  it('compares the sealed and unsealed servers per scenario, round by round, and by CPU per request', () => {
    const [read, create] = sealCosts([
      run(true, 'read', 1, 900, 1.1), run(false, 'read', 1, 1000, 1.0),
      run(true, 'read', 2, 1000, 1.0), run(false, 'read', 2, 1000, 1.0),
      run(true, 'create', 1, 500), run(false, 'create', 1, 400),
    ]);
    expect(read.on).to.equal(950);
    expect(read.off).to.equal(1000);
    expect(read.ratio).to.equal(0.95);
    expect(read.roundRatios).to.deep.equal([0.9, 1]);
    expect(read.cpuRatio).to.be.closeTo(1 / 1.05, 1e-9);
    expect(create.ratio).to.equal(1.25);
    expect(create.cpuRatio).to.equal(undefined);
    const lines = sealCostLines([read, create]);
    expect(lines[0]).to.match(/^met: read with the seal 950 req\/s vs 1000 without = 0\.950 \(>= 0\.95\) \(rounds: 0\.900, 1\.000; CPU per request 1\.050 vs 1\.000 ms = 0\.952\)$/);
    expect(sealCostLines([{ ...read, on: 900, ratio: 0.9 }])[0]).to.match(/^MISSED: read/);
  });
});
