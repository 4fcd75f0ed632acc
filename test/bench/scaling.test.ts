import { expect } from 'chai';
import { type ScenarioResult, scaling } from '../../scripts/bench/report';

const result = (key: string, rps: number) => ({ key, title: key, server: { rps } }) as unknown as ScenarioResult;

describe('Benchmark scaling check (--compare)', () => {
  it('holds while a scenario keeps at least 80 % of its throughput on the smaller dataset, and says by how much', () => {
    const lines = scaling([result('read', 800), result('search', 790), result('create', 100)], {
      dataset: { patients: 100_000 }, results: [result('read', 1000), result('search', 1000), result('audit', 10)],
    }, 1_000_000);
    expect(lines).to.deep.equal([
      'holds  read: 800 req/s at 1000000 patients vs 1000 at 100000 (-20 %) loses <= 20 %',
      'MISSED  search: 790 req/s at 1000000 patients vs 1000 at 100000 (-21 %) loses <= 20 %',
    ]);
  });
});
