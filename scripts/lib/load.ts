import pg from 'pg';

/** A row as the API writes it; `resource`, where the table has one, is the stored JSON text. */
export type Row = Record<string, unknown> & { resource?: string };

/** Rows as one JSON array, with each resource spliced in as JSON (json_populate_recordset makes it jsonb). */
function batchJson(rows: readonly Row[]): string {
  return `[${rows.map(({ resource, ...rest }) => (resource === undefined ? JSON.stringify(rest) : `{"resource":${resource},${JSON.stringify(rest).slice(1)}`)).join(',')}]`;
}

/**
 * Bulk insert through the migration account (it bypasses RLS, so rows carry their clinic_id as the
 * API's `app_clinic_id()` would). Row triggers still run: history rows are written as on the API
 * path. Two connections, so building the next batch overlaps inserting the last one.
 */
export class BatchLoader {
  private readonly clients: pg.Client[] = [];
  private readonly inFlight: Array<Promise<unknown>> = [];
  private next = 0;

  static async open(url: string, connections = 2): Promise<BatchLoader> {
    const loader = new BatchLoader();
    for (let i = 0; i < connections; i++) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      // Bulk load: a crash loses the run anyway, so do not wait for each commit's WAL flush.
      await c.query('set synchronous_commit = off');
      loader.clients.push(c);
    }
    return loader;
  }

  /** Queues one batch; waits only when every connection is busy. */
  async insert(table: string, rows: readonly Row[]): Promise<void> {
    if (!rows.length) return;
    const i = this.next++ % this.clients.length;
    await this.inFlight[i];
    // Only the columns the rows carry: the others keep their defaults, as in the API's insert.
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))].map((c) => pg.escapeIdentifier(c)).join(', ');
    const t = pg.escapeIdentifier(table);
    const sql = `insert into ${t} (${cols}) select ${cols} from json_populate_recordset(null::${t}, $1::json)`;
    this.inFlight[i] = this.clients[i].query(sql, [batchJson(rows)]);
    // Surface a failure on the next call rather than as an unhandled rejection.
    this.inFlight[i].catch(() => undefined);
  }

  async flush(): Promise<void> {
    await Promise.all(this.inFlight);
    this.inFlight.length = 0;
  }

  async close(): Promise<void> {
    try { await this.flush(); } finally { await Promise.all(this.clients.map((c) => c.end())); }
  }

  /** Statistics and visibility maps as a long-running database would have them. */
  async analyze(tables: readonly string[]): Promise<void> {
    for (const t of tables) await this.clients[0].query(`vacuum (analyze) ${pg.escapeIdentifier(t)}`);
  }
}
