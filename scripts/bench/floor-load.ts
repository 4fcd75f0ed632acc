import pg from 'pg';
import type { FloorPlan } from './floor';
import { type CpuWatch, type Measurement, Recorder } from './measure';

async function loop(clients: pg.Client[], plan: FloorPlan, seconds: number, rec?: Recorder): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(clients.map(async (client) => {
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      try {
        await plan(client);
        rec?.ok(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        rec?.error(Number(process.hrtime.bigint() - t0) / 1e6, (err as Error).message.slice(0, 80));
      }
    }
  }));
}

/**
 * PostgreSQL's floor for a scenario: the same statements the server sends for one request, driven
 * straight through `pg` by `connections` clients (one connection each, no HTTP, no auth, no JSON).
 */
export async function driveFloor(url: string, plan: FloorPlan, opts: { connections: number; seconds: number; warmup: number; cpu?: CpuWatch }): Promise<Measurement> {
  const clients = Array.from({ length: opts.connections }, () => new pg.Client({ connectionString: url }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    if (opts.warmup > 0) await loop(clients, plan, opts.warmup);
    const rec = new Recorder(undefined, opts.cpu);
    await loop(clients, plan, opts.seconds, rec);
    return rec.finish();
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
