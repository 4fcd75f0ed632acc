import { expect } from 'chai';
import { interval95, sealCostLines, sealCosts, type SealRun } from '../../scripts/bench/seal-cost';

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
    expect(read.roundCpuRatios).to.deep.equal([1 / 1.1, 1]);
    // Two rounds, 0.9 and 1.0: mean 0.95, sd 0.0707, t(1) 12.706: 0.95 -+ 0.635.
    expect(read.interval![0]).to.be.closeTo(0.95 - 0.6353, 1e-3);
    expect(read.interval![1]).to.be.closeTo(0.95 + 0.6353, 1e-3);
    expect(create.ratio).to.equal(1.25);
    expect(create.cpuRatio).to.equal(undefined);
    const lines = sealCostLines([read, create]);
    expect(lines[0]).to.match(/^met: read with the seal 950 req\/s vs 1000 without = 0\.950 \(>= 0\.95\) \(rounds: 0\.900, 1\.000; 95 % interval of the rounds' mean 0\.315-1\.585; CPU per request 1\.050 vs 1\.000 ms = 0\.952 \(rounds: 0\.909, 1\.000\)\)$/);
    expect(lines[1]).not.to.match(/interval/);
    expect(sealCostLines([{ ...read, on: 900, ratio: 0.9 }])[0]).to.match(/^MISSED: read/);
  });

  it('gives the 95 % interval of a mean over rounds, narrower as the rounds agree and grow in number', () => {
    expect(interval95([1])).to.equal(undefined);
    expect(interval95([1, Number.NaN])).to.equal(undefined);
    const [lo, hi] = interval95([0.96, 0.98, 1.0, 0.97, 0.99, 0.95, 1.01, 0.98])!;
    // mean 0.98, sd 0.02, t(7) 2.365: 0.98 -+ 0.0167.
    expect(lo).to.be.closeTo(0.98 - 0.01672, 1e-4);
    expect(hi).to.be.closeTo(0.98 + 0.01672, 1e-4);
  });
});
