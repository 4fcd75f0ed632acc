import { expect } from 'chai';
import { insertLiteral, sqlLiteral } from '../../db/literal';
import { admin } from '../helpers/server';

const NASTY = ["plain", "it's", "'; drop table patient; --", "back\\slash", "\\'", "'\\", "both ' and \\ here", "{\"a\":\"x\\\"y\"}", "ünï'cødé ✓", "$$dollar$$", "E'x'", "\n\t"];

describe('SQL literals for the COMMIT round trip', () => {
  it('every string comes back from PostgreSQL exactly as it went in', async () => {
    const db = await admin();
    for (const s of NASTY) {
      const { rows } = await db.raw<{ rows: Array<{ v: string }> }>(`select ${sqlLiteral(s)}::text as v`);
      expect(rows[0].v, s).to.equal(s);
    }
  });

  it('arrays, numbers, booleans, null and dates keep their values', async () => {
    const db = await admin();
    const { rows } = await db.raw<{ rows: Array<{ a: string[]; n: number; b: boolean; z: null; d: Date }> }>(
      `select ${sqlLiteral(NASTY)}::text[] as a, ${sqlLiteral(42)}::int as n, ${sqlLiteral(true)}::boolean as b, ${sqlLiteral(null)}::text as z, ${sqlLiteral(new Date('2024-02-29T12:00:00.123Z'))}::timestamptz as d`);
    expect(rows[0].a).to.deep.equal(NASTY);
    expect(rows[0]).to.include({ n: 42, b: true, z: null });
    expect(rows[0].d.toISOString()).to.equal('2024-02-29T12:00:00.123Z');
  });

  it('refuses what it cannot write', () => {
    expect(() => sqlLiteral({})).to.throw();
    expect(() => sqlLiteral(Number.NaN)).to.throw();
    expect(insertLiteral('t', { a: 1, b: "x'y" })).to.equal("insert into t (a, b) values (1, 'x''y')");
  });
});
