import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import type { AccessReport, AccessReportEntry } from '../fhir/access-report/read';
import { readAccessReport } from '../fhir/access-report/read';
import { badRequest } from '../http/errors';
import { html, type Html } from './html';
import { addScreen, layout, sendHtml } from './layout';
import { accessOf, type ConsoleSession } from './session';

addScreen({ path: '/console/patient-report', label: 'Patient report' });

/** The report's own sheet: on paper, no navigation, no form, just the report and its heading. */
export const PATIENT_REPORT_CSS = `.report-head{border-bottom:2px solid #17324d;margin:1rem 0;padding-bottom:.5rem}
.report-head dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}.report-head dt{font-weight:600}
.report td.n{text-align:right}.report small{display:block}.print-hint{font-size:.85rem}
@media print{header,form.filters,.no-print,main>h1{display:none!important}main{max-width:none;padding:0}
body{color:#000;font-size:10.5pt}table{font-size:9pt}th{background:none;border-bottom:1px solid #000}tr{break-inside:avoid}a{color:inherit;text-decoration:none}@page{margin:14mm}}`;

const KINDS: Readonly<Record<AccessReportEntry['kind'], string>> = { viewed: 'viewed', changed: 'changed', downloaded: 'downloaded a document', exported: 'exported' };

/** The page's parameters: patient, from, to (an empty form field is absent); anything else is a 400 naming the field. */
function reportParams(q: Record<string, unknown>): { patient?: string; from?: string; to?: string } {
  const out: { patient?: string; from?: string; to?: string } = {};
  for (const [k, raw] of Object.entries(q)) {
    if (k !== 'patient' && k !== 'from' && k !== 'to') throw badRequest(`Unknown parameter "${k.slice(0, 40)}"`);
    if (typeof raw !== 'string') throw badRequest(`"${k}" was given more than once`);
    const v = raw.trim();
    if (v.length > 100) throw badRequest(`"${k}" is too long`);
    if (v !== '') out[k] = v;
  }
  return out;
}

function picker(p: { patient?: string; from?: string; to?: string }): Html {
  return html`<form class="filters" method="get" action="/console/patient-report">
<label>Patient id<input type="text" name="patient" value="${p.patient ?? ''}" size="36" required></label>
<label>From<input type="date" name="from" value="${p.from ?? ''}"></label><label>To<input type="date" name="to" value="${p.to ?? ''}"></label>
<button type="submit">Show report</button></form>`;
}

function entryRow(e: AccessReportEntry): Html {
  const emergency = e.purpose === 'emergency access';
  return html`<tr class="${emergency ? 'emergency' : ''}"><td>${e.day}</td><td>${e.accessor}</td><td>${e.role ?? ''}</td><td>${KINDS[e.kind]}</td><td>${e.data}</td>
<td class="${emergency ? 'btg' : ''}">${e.purpose}</td><td class="n">${e.count}</td><td>${e.first.slice(11, 16)}–${e.last.slice(11, 16)}</td>
<td>${e.category ? html`<small>category: ${e.category}</small>` : ''}${e.reason ? html`<small>reason: ${e.reason}</small>` : ''}${e.revoke ? html`<small class="revoke">${e.revoke}</small>` : ''}</td></tr>`;
}

/** The printable report: plain-language heading for the patient, then one line per day, accessor, kind and purpose. */
export function reportBody(r: AccessReport, generatedAt: string): Html {
  return html`<section class="report"><div class="report-head"><h2>Who accessed your record</h2>
<p>This report lists every time someone at ${r.clinicName || 'the clinic'} (staff, an application acting for them, or you yourself) opened, changed,
downloaded or exported your health record between ${r.from} and ${r.to}. Each line is one person on one day doing one kind of thing for one purpose;
"times" says how often. "Emergency access" means someone used emergency (break-glass) access and had to give a reason, shown beside it.
It is provided at your request, under your right of access to this information (HIPAA in the United States, the Digital Personal Data Protection Act, 2023 in India).</p>
<dl><dt>Clinic</dt><dd>${r.clinicName}</dd><dt>Patient id</dt><dd id="report-patient">${r.patientId}</dd><dt>Dates</dt><dd id="report-range">${r.from} to ${r.to} (UTC, both included)</dd>
<dt>Generated</dt><dd id="report-generated">${generatedAt.slice(0, 19).replace('T', ' ')} UTC</dd></dl></div>
${r.entries.length === 0 ? html`<p class="none">Nobody accessed this record in these dates.</p>` : html`<table><thead><tr><th>Day</th><th>Who</th><th>Role</th><th>Did</th><th>Records</th><th>Purpose</th><th>Times</th><th>Between (UTC)</th><th>Emergency access</th></tr></thead>
<tbody>${r.entries.map(entryRow)}</tbody></table>`}
<p class="muted print-hint no-print">To hand this to the patient, print this page (your browser's Print, or save as PDF): the navigation and the form are left off.</p></section>`;
}

/**
 * GET /console/patient-report?patient=&from=&to=: without a patient, the picker; with one, the
 * patient's access report read through readAccessReport (the code `$access-report` runs), as the
 * signed-in user, so reading it is audited as the operation's reading is. `asViewer` runs work as
 * any console page view (permission, audited view or refusal): the picker and a malformed query.
 */
export async function patientReportPage(db: Knex, req: Request, res: Response, s: ConsoleSession, csrf: string, asViewer: (work: () => Promise<void>) => Promise<void>): Promise<void> {
  const view = { title: 'Patient report', active: '/console/patient-report', csrf, user: s.label };
  const sheet = html`<link rel="stylesheet" href="/console/patient-report.css">`;
  let p: ReturnType<typeof reportParams>;
  try {
    p = reportParams(req.query as Record<string, unknown>);
  } catch (err) {
    // A malformed query is refused and recorded as a refused page view.
    return asViewer(async () => { throw err; });
  }
  if (!p.patient) {
    await asViewer(async () => undefined);
    sendHtml(res, 200, layout(view, html`${sheet}<p>Pick a patient and the dates (by default the last 30 days) to see who accessed their record: the same report the patient gets from <code>$access-report</code>.</p>${picker(p)}`));
    return;
  }
  const query = new URLSearchParams(Object.entries({ from: p.from, to: p.to }).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const report = await readAccessReport(db, accessOf(s), { patientId: p.patient, from: p.from, to: p.to, query });
  sendHtml(res, 200, layout(view, html`${sheet}${picker({ patient: report.patientId, from: report.from, to: report.to })}${reportBody(report, new Date().toISOString())}`));
}
