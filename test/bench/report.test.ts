import { expect } from 'chai';
import type { Measurement } from '../../scripts/bench/measure';
import { type ScenarioResult, scaling, table, targets } from '../../scripts/bench/report';

const m = (rps: number, p95: number, p99: number, extra: Partial<Measurement> = {}): Measurement => ({
  requests: rps * 3, seconds: 3, rps, p50: p95 / 2, p95, p99, errors: 0, errorSamples: [], ...extra,
});

/** A scenario measured against its naive floor, with the ratios bench.ts works out. */
function scenario(key: string, title: string, server: Measurement, naive?: Measurement): ScenarioResult {
  return {
    key, title, server,
    ...(naive ? { naive, naiveRatio: server.rps / naive.rps, naiveP99Ratio: server.p99 / naive.p99 } : {}),
  };
}

describe('Benchmark report: the naive floor columns and the targets per scenario', () => {
  const results = [
    scenario('read', 'read Patient by id', m(1100, 30, 45, { rssMb: 320 }), m(1000, 25, 40)),
    scenario('search', 'search Patient by family', m(700, 60, 80, { rssMb: 330 }), m(1000, 50, 60)),
    scenario('create', 'create Patient', m(500, 70, 90, { rssMb: 410, errors: 2 })),
    scenario('audit', 'search AuditEvent by patient+date', m(300, 55, 70, { rssMb: 300 }), m(400, 40, 50)),
  ];

  it('prints the naive floor\'s req/s and p99 and the server/naive ratios beside the floor columns', () => {
    const lines = table(results).split('\n');
    const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());
    const head = cells(lines[0]);
    const col = (name: string) => head.indexOf(name);
    expect(col('server/naive')).to.equal(col('server/floor') + 3);
    const read = cells(lines[2]);
    expect([read[col('naive req/s')], read[col('naive p99 ms')], read[col('server/naive')], read[col('p99 server/naive')]]).to.deep.equal(['1000', '40.0', '1.10', '1.13']);
    const create = cells(lines[4]);
    expect([create[col('naive req/s')], create[col('server/naive')]]).to.deep.equal(['-', '-']);
  });

  it('says for each scenario whether each target holds, and n/a when the naive floor was not measured', () => {
    expect(targets(results)).to.deep.equal([
      "holds  read Patient by id: req/s >= 1.0x the naive floor's (1.10x)",
      "holds  read Patient by id: p99 <= 1.5x the naive floor's (1.13x)",
      'holds  read Patient by id: server RSS <= 400 MB (320 MB)',
      'holds  read Patient by id: zero errors (0)',
      "MISSED  search Patient by family: req/s >= 0.8x the naive floor's (0.70x)",
      'holds  search Patient by family: server RSS <= 400 MB (330 MB)',
      'holds  search Patient by family: zero errors (0)',
      "n/a  create Patient: req/s >= 0.8x the naive floor's (no naive floor measured)",
      'MISSED  create Patient: server RSS <= 400 MB (410 MB)',
      'MISSED  create Patient: zero errors (2)',
      'MISSED  search AuditEvent by patient+date: p95 <= 50 ms (55.0 ms)',
      'holds  search AuditEvent by patient+date: server RSS <= 400 MB (300 MB)',
      'holds  search AuditEvent by patient+date: zero errors (0)',
    ]);
  });

  it('--compare shows server/naive beside the earlier run\'s', () => {
    const earlier = { dataset: { patients: 2000 }, results: [scenario('read', 'read Patient by id', m(1000, 30, 40), m(1250, 20, 30))] };
    expect(scaling([results[0]], earlier, 100_000)).to.deep.equal([
      'holds  read Patient by id: 1100 req/s at 100000 patients vs 1000 at 2000 (10 %) loses <= 20 %; server/naive 1.10 vs 0.80',
    ]);
  });
});
