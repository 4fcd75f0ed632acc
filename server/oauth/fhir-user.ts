import type { Knex } from 'knex';
import type { Config } from '../config';
import { memberIdentity } from './patient-user';

/**
 * A user's FHIR identity at a clinic (SMART fhirUser): the Patient a patient's own account is
 * linked to, else the Practitioner their membership is linked to (admin CLI `--practitioner`). A
 * user without a link keeps the older form, named by their user id, which no Practitioner row answers.
 */
export async function fhirUserAt(db: Knex, cfg: Config, clinicId: string | undefined, userId: string): Promise<string> {
  return (await memberIdentity(db, cfg, clinicId, userId)).fhirUser;
}
