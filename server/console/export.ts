import type { Response } from 'express';
import type { Knex } from 'knex';
import type { AuditRecord } from '../audit/record';
import { renderAuditEventJson } from '../audit/render';
import { accessLogPage, entityOf, isoOf, patientsOf } from './access-log';
import type { AccessFilters } from './filters';

/**
 * Exports of a filtered access log, streamed: keyset pages of PAGE rows, each written to the
 * response with backpressure (a slow client pauses the reading), so a year never sits in memory.
 * The CSV (RFC 4180: CRLF line ends, every field quoted, quotes doubled) has these fixed columns.
 */
export const CSV_COLUMNS = [
  'recorded', 'id', 'user_id', 'user', 'role', 'action', 'subtype', 'outcome', 'outcome_desc', 'purpose_of_use',
  'patient_ids', 'entity', 'client_id', 'source_ip', 'request_id',
] as const;
const PAGE = 1000;

export const csvField = (v: unknown): string => `"${String(v ?? '').replace(/"/g, '""')}"`;
export const csvLine = (fields: unknown[]): string => `${fields.map(csvField).join(',')}\r\n`;

function csvRow(r: AuditRecord, labels: Map<string, string>): string {
  return csvLine([
    isoOf(r.last_updated), r.id, r.user_id, r.user_id ? labels.get(r.user_id) ?? '' : '', r.role, r.action, r.subtype, r.outcome, r.outcome_desc,
    r.purpose_of_use, patientsOf(r).join(' '), entityOf(r), r.client_id, r.source_ip, r.request_id,
  ]);
}

/** Waits until the response can take more (or the client went away). */
async function write(res: Response, chunk: string): Promise<void> {
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
}

export type ExportFormat = 'csv' | 'ndjson';

/** Streams every row the filters select; returns how many were written. */
export async function streamExport(
  trx: Knex.Transaction, clinicId: string, f: AccessFilters, format: ExportFormat, res: Response,
  labelsOf: (ids: string[]) => Promise<Map<string, string>>,
): Promise<number> {
  res.status(200);
  res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/fhir+ndjson');
  res.setHeader('Content-Disposition', `attachment; filename="access-log.${format}"`);
  res.setHeader('Cache-Control', 'no-store');
  if (format === 'csv') await write(res, csvLine([...CSV_COLUMNS]));
  let count = 0;
  let after = f.after;
  for (;;) {
    if (res.destroyed) break;
    const rows = await accessLogPage(trx, clinicId, { ...f, after }, PAGE);
    if (!rows.length) break;
    const labels = format === 'csv' ? await labelsOf(rows.flatMap((r) => (r.user_id ? [r.user_id] : []))) : new Map<string, string>();
    await write(res, rows.map((r) => (format === 'csv' ? csvRow(r, labels) : `${renderAuditEventJson(r)}\n`)).join(''));
    count += rows.length;
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1];
    after = { at: last.cursor_at, id: last.id };
  }
  return count;
}
