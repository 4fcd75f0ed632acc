import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { SEALER_ROLE } from '../../db/roles';
import { CHAIN_START, chainNext, checkpointStatement, type SealKey } from './seal-key';

/**
 * Somewhere outside the database that keeps each signed checkpoint (the object store, under its own
 * prefix): a rolled-back database cannot take back what was anchored there.
 */
export interface AnchorStore {
  put(key: string, body: string): Promise<void>;
  /** Keys under the prefix, in key order. */
  keys(prefix: string): Promise<string[]>;
  get(key: string): Promise<string>;
  /** An archive too large for memory (retention's export of expired rows), from a file. */
  putFile(key: string, file: string): Promise<void>;
}

export const anchorPrefix = (clinicId: string) => `audit-checkpoints/${clinicId}/`;
export const anchorKey = (clinicId: string, treeSize: number) => `${anchorPrefix(clinicId)}${String(treeSize).padStart(16, '0')}.json`;
export const retentionKey = (clinicId: string, throughSeq: number) => `audit-retention/${clinicId}/${String(throughSeq).padStart(16, '0')}.json`;
export const archiveKey = (clinicId: string, throughSeq: number) => `audit-archive/${clinicId}/${String(throughSeq).padStart(16, '0')}.ndjson`;

/** The anchored copy of a checkpoint. */
export interface AnchoredCheckpoint { statement: string; signature: string; keyId: string }

/** One session-level advisory lock per deployment: exactly one process seals. */
const SEALER_LOCK = 0x5ea1_0001;
const BATCH = 5000;

interface PgConnection { query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> }
interface PendingRow { id: string; clinic_id: string; last_updated: Date; hash: Buffer | null; tx_text: string }

export interface SealRound { sealed: number; checkpoints: number; anchored: number; waitsForHash?: boolean }

/**
 * The sealer: appends committed audit rows to their clinic's hash chain in order, never skipping
 * one, and signs a checkpoint per clinic per round. A row is taken only once every transaction
 * that began before it could have committed has ended: below pg_snapshot_xmin nothing can still
 * appear, whatever the commit order of concurrent writers or a transaction left open.
 */
export class Sealer {
  private conn?: PgConnection;
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: Knex,
    private readonly key: SealKey,
    private readonly anchors: AnchorStore | undefined,
    private readonly log: Logger,
    private readonly intervalMs: number,
    /** Hashes rows written without one (AUDIT_SEAL=false, a raw insert) as the audit keeper: the sealer itself never reads a row's content. */
    private readonly hashMissing?: () => Promise<number>,
  ) {}

  /** Runs in the background: tries for the lock each interval, seals while it holds it. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sealNow().catch((err) => {
        this.log.error({ err }, 'audit sealing failed; retrying');
        this.dropConnection();
      }).finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running.catch(() => undefined);
    this.dropConnection();
  }

  /** Seals everything sealable now (if this process holds the lock); then anchors what is not anchored yet. */
  sealNow(): Promise<SealRound> {
    // One connection, one round at a time: the timer's and a caller's rounds queue behind each other.
    const next = this.serial.then(() => this.sealAll(), () => this.sealAll());
    this.serial = next.catch(() => undefined);
    return next;
  }

  private serial: Promise<unknown> = Promise.resolve();
  private paused = false;

  /** Maintenance (restoring a backup, a test of what unsealed rows look like): no round runs until resumed. */
  pause(): () => void {
    this.paused = true;
    return () => { this.paused = false; };
  }

  private async sealAll(): Promise<SealRound> {
    const total: SealRound = { sealed: 0, checkpoints: 0, anchored: 0 };
    if (this.paused) return total;
    const conn = await this.lockedConnection();
    if (!conn) return total;
    let hashed = false;
    for (;;) {
      const r = await this.round(conn);
      total.sealed += r.sealed;
      total.checkpoints += r.checkpoints;
      if (r.waitsForHash && this.hashMissing && !hashed) {
        hashed = true;
        this.log.warn({ rows: await this.hashMissing() }, 'audit rows written without their hash were hashed before sealing');
        continue;
      }
      if (r.sealed < BATCH) break;
    }
    total.anchored = await this.anchor(conn);
    return total;
  }

  private async lockedConnection(): Promise<PgConnection | undefined> {
    if (this.conn) return this.conn;
    const conn = await (this.db.client as { acquireConnection(): Promise<PgConnection> }).acquireConnection();
    const { rows } = await conn.query(`select pg_try_advisory_lock(${SEALER_LOCK}) as locked`);
    if (rows[0].locked !== true) {
      await (this.db.client as { releaseConnection(c: PgConnection): Promise<void> }).releaseConnection(conn);
      return undefined;
    }
    this.conn = conn;
    return conn;
  }

  private dropConnection(): void {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    // Unlocking by ending the session: a broken connection must not go back to the pool holding the lock.
    const pool = this.db.client as { releaseConnection(c: PgConnection): Promise<void> };
    conn.query(`select pg_advisory_unlock(${SEALER_LOCK})`).catch(() => undefined).finally(() => { pool.releaseConnection(conn).catch(() => undefined); });
  }

  /** One transaction: the next batch of final rows, their leaves (a block per clinic), a signed checkpoint per clinic, the cursor. */
  private async round(conn: PgConnection): Promise<SealRound> {
    await conn.query('begin');
    try {
      await conn.query(`set local role ${SEALER_ROLE}`);
      const { rows: [h] } = await conn.query('select pg_snapshot_xmin(pg_current_snapshot())::text as horizon');
      const { rows: [cursor] } = await conn.query('select cursor_tx::text as tx, cursor_id::text as id from audit_seal_state for update');
      const { rows } = await conn.query(
        // Ordered by the xid8 itself (an output column named tx would sort as text: '999' after '1320').
        `select a.id, a.clinic_id, a.last_updated, a.hash, a.tx::text as tx_text from audit_event a
          where (a.tx, a.id) > ($1::xid8, $2::uuid) and a.tx < $3::xid8 order by a.tx, a.id limit ${BATCH}`,
        [cursor.tx, cursor.id, h.horizon],
      ) as unknown as { rows: PendingRow[] };
      // A row without its hash (written with AUDIT_SEAL=false) waits for the start-up hashing; none is passed over.
      const unhashed = rows.findIndex((r) => r.hash === null);
      const batch = unhashed === -1 ? rows : rows.slice(0, unhashed);
      if (!batch.length) {
        await conn.query('commit');
        return { sealed: 0, checkpoints: 0, anchored: 0, waitsForHash: unhashed === 0 };
      }
      const byClinic = new Map<string, PendingRow[]>();
      for (const r of batch) {
        const list = byClinic.get(r.clinic_id);
        if (list) list.push(r);
        else byClinic.set(r.clinic_id, [r]);
      }
      const sealedAt = new Date().toISOString();
      for (const [clinicId, list] of byClinic) {
        const { rows: last } = await conn.query('select tree_size::text as size, head from audit_checkpoint where clinic_id = $1 order by tree_size desc limit 1', [clinicId]);
        let size = last.length ? Number(last[0].size) : 0;
        let head = last.length ? last[0].head as Buffer : CHAIN_START;
        const first = size + 1;
        const ids: string[] = [];
        const times: string[] = [];
        const hashes: Buffer[] = [];
        let min = list[0].last_updated;
        let max = min;
        for (const r of list) {
          size += 1;
          head = chainNext(head, r.hash as Buffer);
          ids.push(r.id);
          times.push(r.last_updated.toISOString());
          hashes.push(r.hash as Buffer);
          if (r.last_updated < min) min = r.last_updated;
          if (r.last_updated > max) max = r.last_updated;
        }
        // The round's leaves of this clinic as one row: a leaf per audit row would cost a heap
        // tuple and its index entries for every read the server audits.
        await conn.query(
          `insert into audit_seal_block (clinic_id, first_seq, last_seq, min_time, max_time, ids, times, hashes)
           values ($1, $2, $3, $4, $5, $6::uuid[], $7::timestamptz[], $8::bytea[])`,
          [clinicId, first, size, min, max, ids, times, hashes],
        );
        const statement = checkpointStatement({ clinicId, treeSize: size, head, sealedAt, keyId: this.key.keyId });
        await conn.query(
          'insert into audit_checkpoint (clinic_id, tree_size, head, sealed_at, statement, signature, key_id) values ($1, $2, $3, $4, $5, $6, $7)',
          [clinicId, size, head, sealedAt, statement, this.key.sign(statement), this.key.keyId],
        );
      }
      const end = batch[batch.length - 1];
      await conn.query('update audit_seal_state set cursor_tx = $1::xid8, cursor_id = $2, updated_at = now()', [end.tx_text, end.id]);
      await conn.query('commit');
      return { sealed: batch.length, checkpoints: byClinic.size, anchored: 0, waitsForHash: unhashed !== -1 };
    } catch (err) {
      await conn.query('rollback').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Writes each clinic's newest unanchored checkpoint to the anchor store, and marks it and the
   * older ones it covers as anchored: its head commits to every leaf before it, so a rollback or
   * rewrite of any of them contradicts it. One object per clinic per pass, however long the
   * backlog was. A store that cannot be reached leaves them for the next round.
   */
  private async anchor(conn: PgConnection): Promise<number> {
    if (!this.anchors) return 0;
    await conn.query(`set role ${SEALER_ROLE}`);
    try {
      const { rows } = await conn.query(`select distinct on (clinic_id) clinic_id, tree_size::text as size, statement, signature, key_id
                                           from audit_checkpoint where anchored_at is null order by clinic_id, tree_size desc`);
      let done = 0;
      for (const c of rows) {
        const body: AnchoredCheckpoint = { statement: c.statement as string, signature: (c.signature as Buffer).toString('base64'), keyId: c.key_id as string };
        try {
          await this.anchors.put(anchorKey(c.clinic_id as string, Number(c.size)), JSON.stringify(body));
        } catch (err) {
          this.log.warn({ err }, 'audit checkpoint not anchored: the object store is unreachable; sealing goes on');
          break;
        }
        await conn.query('update audit_checkpoint set anchored_at = now() where clinic_id = $1 and tree_size <= $2 and anchored_at is null', [c.clinic_id, c.size]);
        done += 1;
      }
      return done;
    } finally {
      await conn.query('reset role');
    }
  }
}
