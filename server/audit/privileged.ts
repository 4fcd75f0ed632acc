import os from 'node:os';
import type { Knex } from 'knex';
import { sqlLiteral } from '../../db/literal';
import { APP_ROLE } from '../../db/roles';
import { jcs } from './canonical';
import type { AuditFacts } from './record';
import { auditInsertSql, withRequestFacts } from './writer';

/**
 * Privileged changes (roles, permission trees, users, memberships, clients, keys, settings) as DCM
 * Security Alert AuditEvents naming the changed object with its state before and after, written in
 * the transaction that makes the change: a change that fails leaves no event, an event that fails
 * undoes the change.
 */

/** The DCM Security Alert subtypes of a privileged change. */
export const PRIVILEGED = {
  securityRolesChanged: '110136',
  userSecurityAttributesChanged: '110137',
  softwareConfiguration: '110131',
} as const;
export type PrivilegedSubtype = (typeof PRIVILEGED)[keyof typeof PRIVILEGED];

/** The server's own objects a privileged change can name (the entity's `urn:clinic-fhir:<type>`). */
export type PrivilegedObject = 'Clinic' | 'User' | 'Membership' | 'Role' | 'OAuthClient' | 'SigningKey' | 'SecretsKey' | 'ClinicSettings';

/** Who made the change: an operator at the admin CLI, or an API caller named as its other events name it. */
export type PrivilegedActor = { operator: string } | { userId: string; roleName?: string; clientId?: string };

export interface PrivilegedChange {
  subtype: PrivilegedSubtype;
  action: 'C' | 'U' | 'D';
  object: PrivilegedObject;
  id: string;
  /** The state before (absent for a creation) and after (absent for a deletion); secrets are masked here. */
  old?: unknown;
  new?: unknown;
  /** The clinics the event is recorded under; none: the server's own events (SERVER_EVENTS_CLINIC). */
  clinicIds: readonly string[];
  summary?: string;
}

/** State keys that hold secrets: recorded only as "changed" (set) or null (not set). */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password', 'passwordHash', 'password_hash', 'totpSecret', 'totp_secret', 'secret', 'privateKey', 'privateJwk', 'private_jwk',
  'clientSecret', 'client_secret', 'sealed',
]);

/** `state` as plain JSON (dates as ISO instants) with every secret replaced by "changed". */
export function masked(state: unknown): unknown {
  const plain: unknown = state === undefined ? undefined : JSON.parse(JSON.stringify(state));
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, SECRET_KEYS.has(k) ? (x === null ? null : 'changed') : walk(x)]));
  };
  return walk(plain);
}

/** The CLI's operator: the `--actor` given, or the OS user at this host. */
export function cliOperator(given?: string): string {
  return given ?? `${os.userInfo().username}@${os.hostname()}`;
}

/** The events of one change: one per clinic it is recorded under. */
export function privilegedFacts(change: PrivilegedChange, actor: PrivilegedActor): AuditFacts[] {
  const detail: Record<string, string> = {
    ...(change.old !== undefined ? { old: jcs(masked(change.old)) } : {}),
    ...(change.new !== undefined ? { new: jcs(masked(change.new)) } : {}),
    ...('operator' in actor ? { operator: actor.operator } : {}),
  };
  const who = 'operator' in actor ? {} : { userId: actor.userId, roleName: actor.roleName, clientId: actor.clientId };
  const clinics = change.clinicIds.length ? [...new Set(change.clinicIds)] : [null];
  return clinics.map((clinicId) => ({
    type: 'security', interaction: change.subtype, action: change.action, outcome: '0', outcomeDesc: change.summary,
    clinicId, resourceType: change.object, resourceId: change.id, detail, ...who,
  }));
}

/**
 * Writes the changes' events inside the caller's transaction (before its COMMIT): each as the app
 * role under its clinic, as audit_event's insert policy asks, then the transaction's role and clinic
 * setting are put back. One round trip.
 */
export async function writePrivileged(trx: Knex.Transaction, actor: PrivilegedActor, changes: readonly PrivilegedChange[]): Promise<void> {
  const facts = changes.flatMap((c) => privilegedFacts(c, actor));
  if (!facts.length) return;
  const { rows } = await trx.raw("select current_user as role, coalesce(current_setting('app.clinic_id', true), '') as clinic") as { rows: Array<{ role: string; clinic: string }> };
  const set = (role: string, clinic: string) => `select set_config('role', ${sqlLiteral(role)}, true), set_config('app.clinic_id', ${sqlLiteral(clinic)}, true)`;
  const statements = facts.flatMap((f) => [set(APP_ROLE, f.clinicId ?? ''), auditInsertSql(withRequestFacts(f))]);
  await trx.raw([...statements, set(rows[0].role, rows[0].clinic)].join('; '));
}
