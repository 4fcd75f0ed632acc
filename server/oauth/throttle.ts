import type { Knex } from 'knex';

/**
 * Lockout policy: 5 failures within 15 minutes lock the account for 15 minutes; an address is locked
 * after SIGNIN_ADDRESS_LIMIT failures (default 50), so one user behind a clinic's NAT cannot lock
 * out the others. The counts live in the login_throttle table: every node shares them.
 */
export const MAX_FAILURES = 5;
const WINDOW = "interval '15 minutes'";
const LOCK = "interval '15 minutes'";

export const userSubject = (userId: string): string => `user:${userId}`;
export const addressSubject = (ip: string): string => `ip:${ip.slice(0, 64)}`;

/** Subjects among `subjects` that are locked now. */
export async function lockedSubjects(trx: Knex.Transaction, subjects: string[]): Promise<string[]> {
  const rows = await trx('login_throttle').whereIn('subject', subjects).where('locked_until', '>', trx.fn.now()).select('subject');
  return rows.map((r: { subject: string }) => r.subject);
}

/** Counts one failure; true when this failure locked the subject (the audit records a lockout). */
export async function recordFailure(trx: Knex.Transaction, subject: string, maxFailures = MAX_FAILURES): Promise<boolean> {
  const stale = `login_throttle.window_started_at < now() - ${WINDOW}`;
  const next = `case when ${stale} then 1 else login_throttle.failures + 1 end`;
  const { rows } = await trx.raw<{ rows: Array<{ failures: number }> }>(`
    insert into login_throttle (subject, failures, window_started_at) values (?, 1, now())
    on conflict (subject) do update set
      failures = ${next},
      window_started_at = case when ${stale} then now() else login_throttle.window_started_at end,
      locked_until = case when ${next} >= ? then now() + ${LOCK} else login_throttle.locked_until end
    returning failures`, [subject, maxFailures]);
  return rows[0]?.failures === maxFailures;
}

/** A successful sign-in clears the account's count (never the address's: one good password must not reset a spray). */
export async function clearFailures(trx: Knex.Transaction, subject: string): Promise<void> {
  await trx('login_throttle').where({ subject }).delete();
}

/** Lifts a lock (and forgets the count) of one subject; true when there was one. */
export async function clearSubject(trx: Knex.Transaction, subject: string): Promise<{ wasLocked: boolean; existed: boolean }> {
  const rows = await trx('login_throttle').where({ subject }).delete().returning(trx.raw('locked_until > now() as locked'));
  return { existed: rows.length > 0, wasLocked: rows.some((r: { locked: boolean | null }) => r.locked === true) };
}
