import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrationSource } from '../../db/migrations';
import { databaseAt, dropDatabase } from '../helpers/migrated';
import { testServer } from '../helpers/server';

interface Leaf { clinic_id: string; seq: number; audit_id: string; last_updated: Date; hash: Buffer }
interface Block { clinic_id: string; first_seq: string; last_seq: string; min_time: Date; max_time: Date; ids: string[]; times: Date[]; hashes: Buffer[] }

/** A leaf as the sealer stored it before migration 037: one row per audit row. */
function leaf(clinic: string, seq: number): Leaf {
  return { clinic_id: clinic, seq, audit_id: crypto.randomUUID(), last_updated: new Date(Date.UTC(2026, 10, 20, 10, 0, 0, seq)), hash: crypto.randomBytes(32) };
}

describe('Migration 037 packs the seal\'s leaves into blocks', () => {
  let db: Knex;
  const name = `blocks_${crypto.randomBytes(4).toString('hex')}`;
  const A = crypto.randomUUID();
  const B = crypto.randomUUID();
  let leaves: Leaf[];
  let blocks: Block[];

  before(async function (this: Mocha.Context) {
    this.timeout(120_000);
    db = await databaseAt((await testServer()).db.adminUrl, name, '036_console');
    // Clinic A: 12 000 leaves with 3 missing in the middle (removed by someone: a gap $verify must still see); clinic B: 3.
    leaves = [
      ...Array.from({ length: 12_000 }, (_, i) => leaf(A, i + 1)).filter((l) => l.seq < 6000 || l.seq > 6002),
      ...Array.from({ length: 3 }, (_, i) => leaf(B, i + 1)),
    ];
    // As the sealer stored them (the migration account is a superuser here: RLS does not apply).
    for (let i = 0; i < leaves.length; i += 2000) await db('audit_seal_leaf').insert(leaves.slice(i, i + 2000));
    await db.migrate.latest({ migrationSource });
    blocks = await db('audit_seal_block').orderBy(['clinic_id', 'first_seq']).select('*');
  });

  after(async function (this: Mocha.Context) {
    this.timeout(60_000);
    await db?.destroy();
    await dropDatabase((await testServer()).db.adminUrl, name);
  });

  it('every leaf is kept, in its clinic\'s chain order, with its row, time and hash', () => {
    const unpacked = blocks.flatMap((b) => b.ids.map((id, n) => ({
      clinic_id: b.clinic_id, seq: Number(b.first_seq) + n, audit_id: id, last_updated: b.times[n], hash: b.hashes[n],
    })));
    const key = (l: Leaf) => `${l.clinic_id}/${String(l.seq).padStart(8, '0')}`;
    expect(unpacked.map(key).sort()).to.deep.equal(leaves.map(key).sort());
    const bySeq = new Map(leaves.map((l) => [key(l), l]));
    for (const l of unpacked) expect(l).to.deep.equal(bySeq.get(key(l)));
  });

  it('blocks hold at most 5000 consecutive leaves, a gap stays a gap, and each knows its times', () => {
    for (const b of blocks) {
      expect(b.ids.length).to.be.at.most(5000);
      expect(Number(b.last_seq) - Number(b.first_seq) + 1).to.equal(b.ids.length);
      expect(b.min_time.getTime()).to.equal(Math.min(...b.times.map((t) => t.getTime())));
      expect(b.max_time.getTime()).to.equal(Math.max(...b.times.map((t) => t.getTime())));
    }
    const a = blocks.filter((b) => b.clinic_id === A).map((b) => [Number(b.first_seq), Number(b.last_seq)]);
    expect(a).to.deep.equal([[1, 5000], [5001, 5999], [6003, 10000], [10001, 12000]]);
  });

  it('the per-row leaf table is gone; blocks are append-only', async () => {
    expect((await db.raw(`select to_regclass('audit_seal_leaf') as t`)).rows[0].t).to.equal(null);
    const err = await db('audit_seal_block').where({ clinic_id: B }).update({ max_time: new Date() }).catch((e: Error) => e);
    expect(String(err)).to.match(/append-only/, String(err));
    const del = await db('audit_seal_block').where({ clinic_id: B }).del().catch((e: Error) => e);
    expect(String(del)).to.match(/append-only/);
  });
});
