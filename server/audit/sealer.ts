import crypto from 'node:crypto';
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
/** One clinic's share of a round (clinic_id null: the round seals nothing), with the batch's cut and cursor on every row. */
interface RoundRow {
  upto: number; fetched: number; end_tx: string | null; end_id: string | null;
  clinic_id: string | null; size: string; rows: number; head: Buffer | null;
  /** The round's row hashes in order, concatenated (every one 32 bytes), or else listed one by one. */
  joined: Buffer | null; listed: Buffer[] | null;
}

/**
 * A round in one statement: the next BATCH final rows in (tx, id) order, cut before the first row
 * without its hash; each clinic's rows appended as one audit_seal_block after its latest
 * checkpoint (a leaf per audit row would cost a heap tuple and its index entries for every read the
 * server audits). Answers a row per clinic (or one with no clinic), ordered by the xid8 itself (an
 * output column named tx would sort as text: '999' after '1320').
 */
const ROUND_SQL = `
  with batch as (
    select b.*, row_number() over (order by b.tx, b.id) as n from (
      select a.id, a.clinic_id, a.last_updated, a.hash, a.tx from audit_event a
       where (a.tx, a.id) > ($1::xid8, $2::uuid) and a.tx < $3::xid8 order by a.tx, a.id limit ${BATCH}) b
  ), cut as (
    select coalesce(min(n) filter (where hash is null), count(*) + 1) - 1 as upto, count(*) as fetched from batch
  ), per as (
    select k.clinic_id, count(*)::int as rows, array_agg(k.id order by k.n) as ids, array_agg(k.last_updated order by k.n) as times,
           array_agg(k.hash order by k.n) as hashes, string_agg(k.hash, ''::bytea order by k.n) as joined,
           bool_and(octet_length(k.hash) = 32) as uniform, min(k.last_updated) as min_time, max(k.last_updated) as max_time
      from batch k, cut where k.n <= cut.upto group by k.clinic_id
  ), tip as (
    select p.*, coalesce(c.tree_size, 0) as size, c.head from per p
      left join lateral (select tree_size, head from audit_checkpoint c where c.clinic_id = p.clinic_id order by tree_size desc limit 1) c on true
  ), blocks as (
    insert into audit_seal_block (clinic_id, first_seq, last_seq, min_time, max_time, ids, times, hashes)
    select clinic_id, size + 1, size + rows, min_time, max_time, ids, times, hashes from tip
  )
  select cut.upto::int, cut.fetched::int, e.tx::text as end_tx, e.id::text as end_id, t.clinic_id::text, t.size::text, t.rows, t.head,
         case when t.uniform then t.joined end as joined, case when t.uniform then null else t.hashes end as listed
    from cut left join batch e on e.n = cut.upto left join tip t on true order by t.clinic_id`;

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
    /** How often the timer's rounds anchor (each anchoring writes an object per clinic); a caller's sealNow always does. */
    private readonly anchorIntervalMs = intervalMs,
    private readonly clock: () => number = Date.now,
  ) {}

  /** When a pass last reached the object store (0: never): the timer anchors again once anchorIntervalMs has passed. */
  private anchoredAt = 0;

  /** Whether the timer's next round anchors: the interval has passed since the last pass that reached the store. */
  anchorDue(): boolean {
    return this.clock() - this.anchoredAt >= this.anchorIntervalMs;
  }

  /** Runs in the background: tries for the lock each interval, seals while it holds it. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sealNow({ anchor: this.anchorDue() }).catch((err) => {
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

  /** Seals everything sealable now (if this process holds the lock); then anchors what is not anchored yet, unless told not to. */
  sealNow(opts: { anchor?: boolean } = {}): Promise<SealRound> {
    const anchor = opts.anchor ?? true;
    // One connection, one round at a time: the timer's and a caller's rounds queue behind each other.
    const next = this.serial.then(() => this.sealAll(anchor), () => this.sealAll(anchor));
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

  private async sealAll(anchor: boolean): Promise<SealRound> {
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
    if (anchor) total.anchored = await this.anchor(conn);
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

  /**
   * One transaction: the next batch of final rows, their leaves (a block per clinic), a signed
   * checkpoint per clinic, the cursor. The rows never cross into JavaScript: one statement takes the
   * batch (up to the first row without its hash), writes each clinic's block from it, and answers
   * per clinic its size before the round, its head and the round's hashes as one string; only the
   * chain, which the checkpoint signs, is computed here.
   */
  private async round(conn: PgConnection): Promise<SealRound> {
    await conn.query('begin');
    try {
      await conn.query(`set local role ${SEALER_ROLE}`);
      const { rows: [h] } = await conn.query('select pg_snapshot_xmin(pg_current_snapshot())::text as horizon');
      const { rows: [cursor] } = await conn.query('select cursor_tx::text as tx, cursor_id::text as id from audit_seal_state for update');
      const { rows } = await conn.query(ROUND_SQL, [cursor.tx, cursor.id, h.horizon]) as unknown as { rows: RoundRow[] };
      const [{ upto, fetched, end_tx: endTx, end_id: endId }] = rows;
      // A row without its hash (written with AUDIT_SEAL=false) waits for the start-up hashing; none is passed over.
      const waitsForHash = upto < fetched;
      if (!upto) {
        await conn.query('commit');
        return { sealed: 0, checkpoints: 0, anchored: 0, waitsForHash };
      }
      const sealedAt = new Date().toISOString();
      let checkpoints = 0;
      for (const r of rows) {
        if (r.clinic_id === null) continue;
        let head = r.head ?? CHAIN_START;
        if (r.joined) {
          const pair = Buffer.alloc(64);
          for (let at = 0; at < r.joined.length; at += 32) {
            head.copy(pair, 0);
            r.joined.copy(pair, 32, at, at + 32);
            head = crypto.hash('sha256', pair, 'buffer');
          }
        } else {
          for (const rowHash of r.listed ?? []) head = chainNext(head, rowHash);
        }
        const size = Number(r.size) + r.rows;
        const statement = checkpointStatement({ clinicId: r.clinic_id, treeSize: size, head, sealedAt, keyId: this.key.keyId });
        await conn.query(
          'insert into audit_checkpoint (clinic_id, tree_size, head, sealed_at, statement, signature, key_id) values ($1, $2, $3, $4, $5, $6, $7)',
          [r.clinic_id, size, head, sealedAt, statement, this.key.sign(statement), this.key.keyId],
        );
        checkpoints += 1;
      }
      await conn.query('update audit_seal_state set cursor_tx = $1::xid8, cursor_id = $2, updated_at = now()', [endTx, endId]);
      await conn.query('commit');
      return { sealed: upto, checkpoints, anchored: 0, waitsForHash };
    } catch (err) {
      await conn.query('rollback').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Writes each clinic's newest unanchored checkpoint to the anchor store, and marks it and the
   * older ones it covers as anchored: its head commits to every leaf before it, so a rollback or
   * rewrite of any of them contradicts it. One object per clinic per pass, however long the
   * backlog was. A store that cannot be reached leaves them for the next round. The timer's rounds
   * anchor every anchorIntervalMs (AUDIT_ANCHOR_INTERVAL_MS), as SQL Server's ledger uploads its
   * digests on a cadence of its own: a checkpoint not anchored yet makes `$verify` answer incomplete.
   */
  private async anchor(conn: PgConnection): Promise<number> {
    if (!this.anchors) return 0;
    await conn.query(`set role ${SEALER_ROLE}`);
    try {
      const { rows } = await conn.query(`select distinct on (clinic_id) clinic_id, tree_size::text as size, statement, signature, key_id
                                           from audit_checkpoint where anchored_at is null order by clinic_id, tree_size desc`);
      let done = 0;
      const startedAt = this.clock();
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
      // A pass the store refused stays due: the next round tries again.
      if (done === rows.length) this.anchoredAt = startedAt;
      return done;
    } finally {
      await conn.query('reset role');
    }
  }
}
