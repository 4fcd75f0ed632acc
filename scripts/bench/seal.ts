import knexFactory from 'knex';

/** Rows the sealer has not reached yet (read as the migration account, past RLS). */
async function pending(adminUrl: string): Promise<number> {
  const db = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    const { rows } = await db.raw(`select count(*)::int as n from audit_event a, audit_seal_state s where (a.tx, a.id) > (s.cursor_tx, s.cursor_id)`);
    return rows[0].n as number;
  } finally {
    await db.destroy();
  }
}

/** Waits until every audit row is sealed: a loaded dataset is sealed before anything is measured. */
export async function waitForSeal(adminUrl: string, log: (s: string) => void, timeoutMs = 30 * 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let shown = 0;
  for (;;) {
    const n = await pending(adminUrl);
    if (n === 0) return;
    if (Date.now() > until) throw new Error(`the sealer still has ${n} rows to seal after ${timeoutMs / 1000} s`);
    if (Date.now() - shown > 10_000) { log(`sealing the audit trail: ${n} rows to go\n`); shown = Date.now(); }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface SealLag { rows: number; p50: number; p99: number; max: number }

/** How long rows written since `since` waited for the signed checkpoint that covers them. */
export async function sealLag(adminUrl: string, since: Date): Promise<SealLag> {
  const db = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    const { rows } = await db.raw(`
      select count(*)::int as rows,
             coalesce(percentile_cont(0.5) within group (order by lag), 0)::float8 as p50,
             coalesce(percentile_cont(0.99) within group (order by lag), 0)::float8 as p99,
             coalesce(max(lag), 0)::float8 as max
        from (select extract(epoch from c.sealed_at - u.t) as lag
                from audit_seal_block b
                cross join lateral unnest(b.times) u(t)
                cross join lateral (select sealed_at from audit_checkpoint c where c.clinic_id = b.clinic_id and c.tree_size >= b.last_seq order by c.tree_size limit 1) c
               where b.max_time >= ? and u.t >= ?) x`, [since, since]);
    return rows[0] as SealLag;
  } finally {
    await db.destroy();
  }
}
