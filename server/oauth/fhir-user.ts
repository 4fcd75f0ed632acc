import type { Knex } from 'knex';
import type { Config } from '../config';
import { asAuthServer } from './auth-db';

/**
 * A staff user's FHIR identity at a clinic (SMART fhirUser): the Practitioner their membership is
 * linked to (admin CLI `--practitioner`). A user without a link keeps the older form, named by
 * their user id, which no Practitioner row answers.
 */
export async function fhirUserAt(db: Knex, cfg: Config, clinicId: string | undefined, userId: string): Promise<string> {
  const row = clinicId === undefined ? undefined
    : await asAuthServer(db, (trx) => trx('membership').where({ clinic_id: clinicId, user_id: userId }).first('practitioner_id'));
  return `${cfg.fhirBaseUrl}/Practitioner/${(row?.practitioner_id as string | null | undefined) ?? userId}`;
}
