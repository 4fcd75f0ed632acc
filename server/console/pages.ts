import type { AuditRecord } from '../audit/record';
import { renderAuditEvent } from '../audit/render';
import { entityOf, isoOf, type LogRow, patientsOf } from './access-log';
import { type Alert, ALERT_TITLES } from './alerts';
import type { PrivilegedChange } from './changes';
import { ACTIONS, encodeCursor, OUTCOMES, PURPOSES, resourceTypes } from './filters';
import { html, type Html, query } from './html';

/** The screens' bodies (the layout wraps them). Every value goes through `html`, which escapes it. */
export interface Card { label: string; value: string; note?: string; href?: string }

export function overviewBody(cards: Card[], days: number): Html {
  return html`<p class="muted">The last ${days} days at this clinic.</p><div class="cards">${cards.map((c) => html`<div class="card">${c.href ? html`<a href="${c.href}">${c.label}</a>` : c.label}<b>${c.value}</b>${c.note ? html`<small class="muted">${c.note}</small>` : ''}</div>`)}</div>`;
}

const who = (r: AuditRecord, labels: Map<string, string>) => (r.user_id ? html`<a href="${query('/console/access', { user: r.user_id })}">${labels.get(r.user_id) ?? r.user_id}</a>` : html`<span class="muted">${r.client_id ?? 'unauthenticated'}</span>`);
const patientLinks = (r: AuditRecord) => patientsOf(r).map((p, i) => html`${i ? ', ' : ''}<a href="${query('/console/access', { patient: p })}">Patient/${p}</a>`);
const outcomeOf = (r: AuditRecord) => OUTCOMES[r.outcome] ?? r.outcome;

function select(name: string, label: string, current: string | undefined, options: Record<string, string>): Html {
  return html`<label>${label}<select name="${name}"><option value="">any</option>${Object.entries(options).map(([v, t]) => html`<option value="${v}"${current === v ? html` selected` : ''}>${t}</option>`)}</select></label>`;
}

export function accessLogBody(v: { params: Record<string, string | undefined>; rows: LogRow[]; more: boolean; labels: Map<string, string> }): Html {
  const p = v.params;
  const byPatient = Boolean(p.patient);
  const last = v.rows[v.rows.length - 1];
  const subject = p.patient ? html`<p>Who opened <strong>Patient/${p.patient}</strong>, when, what, how, why, and the outcome. <a id="patient-report" href="${query('/console/patient-report', { patient: p.patient })}">Printable report for the patient</a></p>`
    : p.user ? html`<p>What <strong>${v.labels.get(p.user) ?? p.user}</strong> opened, and when.</p>` : '';
  return html`${subject}
<form class="filters" method="get" action="/console/access">
<label>From<input type="date" name="from" value="${p.from ?? ''}"></label><label>To<input type="date" name="to" value="${p.to ?? ''}"></label>
<label>User id<input type="text" name="user" value="${p.user ?? ''}" size="36"></label><label>Patient id<input type="text" name="patient" value="${p.patient ?? ''}" size="36"></label>
${select('action', 'Action', p.action, ACTIONS)}${select('outcome', 'Outcome', p.outcome, OUTCOMES)}${select('purpose', 'Purpose', p.purpose, PURPOSES)}
${select('type', 'Resource type', p.type, Object.fromEntries(resourceTypes().map((t) => [t, t])))}
<button type="submit">Filter</button></form>
<p>Export this log: <a id="export-csv" href="${query('/console/access/export.csv', p)}">CSV</a> · <a id="export-ndjson" href="${query('/console/access/export.ndjson', p)}">NDJSON (AuditEvents)</a></p>
<table><thead><tr><th>When</th><th>${byPatient ? 'Who' : 'User'}</th><th>Role</th>${byPatient ? '' : html`<th>Patient</th>`}<th>What</th><th>How</th><th>Purpose</th><th>Outcome</th><th></th></tr></thead><tbody>
${v.rows.map((r) => html`<tr><td>${isoOf(r.last_updated)}</td><td>${who(r, v.labels)}</td><td>${r.role ?? ''}</td>${byPatient ? '' : html`<td>${patientLinks(r)}</td>`}
<td>${entityOf(r)}</td><td>${r.subtype} (${r.action})${r.client_id ? html`<br><small class="muted">client ${r.client_id}</small>` : ''}</td>
<td class="${r.purpose_of_use === 'BTG' ? 'btg' : ''}">${r.purpose_of_use ? PURPOSES[r.purpose_of_use as keyof typeof PURPOSES] ?? r.purpose_of_use : ''}</td>
<td>${outcomeOf(r)}${r.outcome_desc && r.outcome !== '0' ? html`<br><small class="muted">${r.outcome_desc}</small>` : ''}</td><td><a href="/console/events/${r.id}">raw</a></td></tr>`)}
</tbody></table>${v.rows.length === 0 ? html`<p class="muted">No events match.</p>` : ''}
${v.more && last ? html`<p><a id="next-page" href="${query('/console/access', { ...p, after: encodeCursor(last.cursor_at, last.id) })}">Older events →</a></p>` : ''}`;
}

export function eventBody(r: AuditRecord): Html {
  return html`<p><a href="${query('/console/access', r.patient_id ? { patient: r.patient_id } : r.user_id ? { user: r.user_id } : {})}">← back to the access log</a></p><pre id="raw-event">${JSON.stringify(renderAuditEvent(r), null, 2)}</pre>`;
}

export function changesBody(changes: PrivilegedChange[]): Html {
  if (!changes.length) return html`<p class="muted">No privileged changes recorded.</p>`;
  return html`${changes.map((c) => html`<section class="change"><h2>${c.title}: ${entityOf(c.row) || c.row.subtype}</h2>
<p>${isoOf(c.row.last_updated)} · by ${c.operator ?? c.row.user_id ?? 'an operator'} · outcome ${outcomeOf(c.row)} · <a href="/console/events/${c.row.id}">raw</a></p>
<table><thead><tr><th>Key</th><th>Change</th><th>Before</th><th>After</th></tr></thead><tbody>${c.diff.map((d) => html`<tr class="${d.kind}"><td>${d.path}</td><td>${d.kind}</td><td>${d.before ?? ''}</td><td>${d.after ?? ''}</td></tr>`)}</tbody></table></section>`)}`;
}

export function alertsBody(alerts: Alert[], labels: Map<string, string>, csrf: string, params: { from: string; to: string }): Html {
  return html`<p class="muted">From ${params.from} to ${params.to}. Thresholds are per clinic (console_alert_settings).</p>
<form class="filters" method="get" action="/console/alerts"><label>From<input type="date" name="from" value="${params.from.slice(0, 10)}"></label><label>To<input type="date" name="to"></label><button type="submit">Show</button></form>
<table><thead><tr><th>When</th><th>Alert</th><th>User</th><th>Detail</th><th>Review</th></tr></thead><tbody>
${alerts.map((a) => html`<tr class="alert ${a.kind}"><td>${a.at}</td><td>${ALERT_TITLES[a.kind]}</td><td><a href="${query('/console/access', { user: a.userId })}">${labels.get(a.userId) ?? a.userId}</a></td><td>${a.detail}</td>
<td>${a.review ? html`reviewed ${a.review.at} by ${labels.get(a.review.by) ?? a.review.by}: ${a.review.note}` : html`<form method="post" action="/console/alerts/review"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="key" value="${a.key}"><input type="text" name="note" required maxlength="2000" placeholder="note"><button type="submit">Mark reviewed</button></form>`}</td></tr>`)}
</tbody></table>${alerts.length === 0 ? html`<p class="muted">No alerts.</p>` : ''}`;
}

export function errorBody(message: string, signIn: boolean): Html {
  return html`<p class="error" role="alert">${message}</p>${signIn ? html`<p><a href="/console/login">Sign in</a></p>` : html`<p><a href="/console">Back to the overview</a></p>`}`;
}
