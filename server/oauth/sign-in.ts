import type { Knex } from 'knex';
import type { Config } from '../config';
import { asAuthServer } from './auth-db';
import { recordAuthEventInClinics } from './audit';
import { verifyPassword, verifyTotp } from './credentials';
import { PURPOSE } from './sealed-secrets';
import { unseal } from './secret-box';
import { addressSubject, clearFailures, lockedSubjects, MAX_FAILURES, recordFailure, userSubject } from './throttle';

export interface SignInAttempt { email: string; password: string; code: string; sourceIp: string }

export type SignInResult =
  | { ok: true; userId: string; clinicIds: string[]; mfa: boolean }
  | { ok: false; reason: string };

interface Account {
  id: string;
  disabled: boolean;
  password_hash: string | null;
  totp_secret: string | null;
  totp_last_step: string | null;
}

/** Clinics where the user may act now (active membership, active clinic). */
export async function activeClinicIds(trx: Knex.Transaction, userId: string): Promise<string[]> {
  const rows = await trx('membership as m').join('clinic as c', 'c.id', 'm.clinic_id')
    .where({ 'm.user_id': userId, 'm.disabled': false, 'c.active': true }).orderBy('c.name').select('m.clinic_id');
  return rows.map((r: { clinic_id: string }) => r.clinic_id);
}

/**
 * Staff sign-in: password (argon2id) and TOTP, with lockout per account and per source address (throttle.ts).
 * Every outcome is audited in each clinic of the account (or with no clinic when the account is
 * unknown); the caller shows the same generic text for every failure.
 */
export async function signIn(db: Knex, cfg: Config, a: SignInAttempt): Promise<SignInResult> {
  const ip = addressSubject(a.sourceIp);
  const outcome = await asAuthServer(db, async (trx) => {
    const account = await trx<Account>('app_user as u').leftJoin('user_credential as c', 'c.user_id', 'u.id')
      .whereRaw('lower(u.email) = lower(?)', [String(a.email ?? '').trim().slice(0, 320)])
      .first('u.id', 'u.disabled', 'c.password_hash', 'c.totp_secret', 'c.totp_last_step');
    const clinicIds = account ? await activeClinicIds(trx, account.id) : [];
    const subjects = account ? [ip, userSubject(account.id)] : [ip];
    const locked = await lockedSubjects(trx, subjects);
    const fail = async (reason: string, count = true) => {
      const limitOf = (s: string) => (s === ip ? cfg.oauth.signinAddressLimit : MAX_FAILURES);
      const newlyLocked = count ? (await Promise.all(subjects.map(async (s) => (await recordFailure(trx, s, limitOf(s))) ? s : null))).filter((s): s is string => s !== null) : [];
      return { ok: false as const, reason, userId: account?.id, clinicIds, newlyLocked };
    };
    // A locked subject is refused before the password is looked at: no oracle while locked.
    if (locked.length > 0) return fail(locked.includes(ip) ? 'source address locked out' : 'account locked out', false);
    const passwordOk = await verifyPassword(account?.password_hash, a.password);
    if (!account) return fail('unknown account');
    if (!passwordOk) return fail(account.password_hash ? 'wrong password' : 'no password set');
    let step: number | null = null;
    if (account.totp_secret) {
      step = await verifyTotp(unseal(account.totp_secret, PURPOSE.totp), String(a.code ?? '').trim(), account.totp_last_step === null ? null : Number(account.totp_last_step));
      if (step === null) return fail(a.code ? 'wrong or reused one-time code' : 'missing one-time code');
    } else if (cfg.oauth.mfaRequired) {
      return fail('MFA required but not enrolled');
    }
    if (account.disabled) return fail('account disabled');
    if (clinicIds.length === 0) return fail('no active clinic membership');
    await clearFailures(trx, userSubject(account.id));
    if (step !== null) await trx('user_credential').where({ user_id: account.id }).update({ totp_last_step: step, updated_at: trx.fn.now() });
    return { ok: true as const, userId: account.id, clinicIds, mfa: step !== null };
  });

  const audit = { userId: outcome.userId } as const;
  if (outcome.ok) {
    await recordAuthEventInClinics(db, outcome.clinicIds, { ...audit, kind: 'login', outcome: '0', reason: outcome.mfa ? 'signed in with password and one-time code' : 'signed in with password' });
    return { ok: true, userId: outcome.userId, clinicIds: outcome.clinicIds, mfa: outcome.mfa };
  }
  await recordAuthEventInClinics(db, outcome.clinicIds, { ...audit, kind: 'login', outcome: '4', reason: `sign-in failed: ${outcome.reason}` });
  for (const subject of outcome.newlyLocked) {
    const reason = subject.startsWith('ip:')
      ? `source address locked for 15 minutes after ${cfg.oauth.signinAddressLimit} failed sign-ins`
      : `account locked for 15 minutes after ${MAX_FAILURES} failed sign-ins`;
    await recordAuthEventInClinics(db, outcome.clinicIds, { ...audit, kind: 'lockout', outcome: '4', reason });
  }
  return { ok: false, reason: outcome.reason };
}
