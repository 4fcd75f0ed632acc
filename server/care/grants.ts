import type { Knex } from 'knex';
import { notFound } from '../http/errors';
import { isUuid } from '../http/ids';

export const CATEGORIES = ['emergency-treatment', 'patient-cannot-consent', 'covering-clinician', 'urgent-continuity', 'public-health-threat'] as const;
export const DECISIONS = ['appropriate', 'inappropriate', 'needs-info'] as const;
export type EventKind = 'requested' | 'refused' | 'granted' | 'first-use' | 'revoked' | 'expired' | 'reviewed';

export interface GrantRow {
  id: string;
  patient_id: string;
  user_id: string;
  category: string;
  reason: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
  review_status: string;
  reviewed_at: Date | null;
  review_note: string | null;
}

/** active, expired or revoked: what the grant does now (RLS asks the same of expires_at and revoked_at). */
export function grantStatus(g: GrantRow, now = new Date()): 'active' | 'expired' | 'revoked' {
  if (g.revoked_at) return 'revoked';
  return g.expires_at.getTime() > now.getTime() ? 'active' : 'expired';
}

/** The path's patient id, or a 404 that reveals nothing (as a read would). */
export function patientIdOf(raw: string | undefined): string {
  if (!raw || !isUuid(raw)) throw notFound();
  return raw.toLowerCase();
}

/** The patient exists in the caller's clinic (labelled or not); otherwise a 404, as if absent. */
export async function assertPatientInClinic(trx: Knex.Transaction, patientId: string): Promise<void> {
  const { rows } = await trx.raw('select app_patient_in_clinic(?) as ok', [patientId]);
  if (rows[0]?.ok !== true) throw notFound(`Patient/${patientId} is not known`);
}

/** One of the patient's grants, or a 404. */
export async function grantOf(trx: Knex.Transaction, patientId: string, grantId: string): Promise<GrantRow> {
  const g = await trx<GrantRow>('break_glass_grant').where({ id: grantId, patient_id: patientId }).first();
  if (!g) throw notFound(`No break-glass grant ${grantId} for Patient/${patientId}`);
  return g;
}

/** Appends one event of a grant's life (once per kind, except reviews and refusals). */
export async function recordEvent(trx: Knex.Transaction, e: { grantId?: string; patientId: string; actor: string; kind: EventKind; detail?: Record<string, unknown> }): Promise<void> {
  await trx.raw(`insert into break_glass_event (clinic_id, grant_id, patient_id, actor, kind, detail) values (app_clinic_id(), ?, ?, ?, ?, ?)
    on conflict (clinic_id, grant_id, kind) where kind <> 'reviewed' and kind <> 'refused' do nothing`,
  [e.grantId ?? null, e.patientId, e.actor, e.kind, e.detail ? JSON.stringify(e.detail) : null]);
}
