import type { Knex } from 'knex';
import type { Config } from '../config';
import { asAuthServer } from './auth-db';

/**
 * A patient's own account: a membership linked to a Patient (admin CLI `user create --patient`).
 * Every token of such a user speaks for that Patient (fhirUser, `patient` context) and carries only
 * patient/ scopes; the database confines the user's requests to that compartment in any case
 * (app_begin, migration 033), so a token minted elsewhere cannot widen it.
 */

/** `user/` and `system/` resource scopes become `patient/` ones; the others are kept as they are. */
export function confineToPatient(scope: string): string {
  const out = scope.split(' ').filter((s) => s !== '').map((s) => s.replace(/^(user|system)\//, 'patient/'));
  return [...new Set(out)].join(' ');
}

/** The identity a member has at a clinic: a linked Patient, else a linked Practitioner, else the user id. */
export interface MemberIdentity {
  fhirUser: string;
  /** Set for a patient's own account: the Patient every token of it is confined to. */
  patientId?: string;
}

export async function memberIdentity(db: Knex, cfg: Config, clinicId: string | undefined, userId: string): Promise<MemberIdentity> {
  const row = clinicId === undefined ? undefined
    : await asAuthServer(db, (trx) => trx('membership').where({ clinic_id: clinicId, user_id: userId }).first('practitioner_id', 'patient_id'));
  const patientId = (row?.patient_id as string | null | undefined) ?? undefined;
  if (patientId) return { fhirUser: `${cfg.fhirBaseUrl}/Patient/${patientId}`, patientId };
  return { fhirUser: `${cfg.fhirBaseUrl}/Practitioner/${(row?.practitioner_id as string | null | undefined) ?? userId}` };
}

/** True when a token's claims speak for the Patient in its `patient` context (a patient's own account). */
export function speaksForPatient(claims: { fhirUser?: unknown; patient?: unknown }): boolean {
  return typeof claims.fhirUser === 'string' && typeof claims.patient === 'string' && claims.fhirUser.endsWith(`/Patient/${claims.patient}`);
}
