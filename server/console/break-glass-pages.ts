import { grantStatus } from '../care/grants';
import { entityOf, isoOf } from './access-log';
import type { Grant, GrantDetail, GrantFilters } from './break-glass';
import { REVIEW_STATUSES } from './break-glass';
import { OUTCOMES } from './filters';
import { html, type Html, query } from './html';

/** The break-glass review screen's bodies; every value goes through `html`, which escapes it. */
export interface People { labels: Map<string, string>; roles: Map<string, string> }

const person = (id: string | null, p: People): Html | string => {
  if (!id) return '';
  const label = p.labels.get(id);
  return label ? html`<a href="${query('/console/access', { user: id })}">${label}</a>` : id;
};
const patient = (id: string) => html`<a href="${query('/console/access', { patient: id })}">Patient/${id}</a>`;
const review = (g: Grant) => html`<span class="review ${g.review_status}">${REVIEW_STATUSES[g.review_status as keyof typeof REVIEW_STATUSES] ?? g.review_status}</span>`;

export function grantListBody(grants: Grant[], p: People, f: Record<string, string | undefined>, more: boolean): Html {
  return html`<p class="muted">Every emergency access (break-glass grant) of this clinic waits here for a review; pending ones come first.</p>
<form class="filters" method="get" action="/console/break-glass">
<label>Review<select name="status"><option value="">any</option>${Object.entries(REVIEW_STATUSES).map(([v, t]) => html`<option value="${v}"${f.status === v ? html` selected` : ''}>${t}</option>`)}</select></label>
<label>Granted from<input type="date" name="from" value="${f.from ?? ''}"></label><label>Granted to<input type="date" name="to" value="${f.to ?? ''}"></label>
<button type="submit">Filter</button></form>
<table id="grants"><thead><tr><th>Granted</th><th>Grantee</th><th>Role</th><th>Patient</th><th>Category</th><th>Now</th><th>Review</th><th></th></tr></thead><tbody>
${grants.map((g) => html`<tr class="grant ${g.review_status}"><td>${isoOf(g.created_at)}</td><td>${person(g.user_id, p)}</td><td>${p.roles.get(g.user_id) ?? ''}</td><td>${patient(g.patient_id)}</td>
<td>${g.category}</td><td>${grantStatus(g)}</td><td>${review(g)}</td><td><a href="/console/break-glass/${g.id}">open</a></td></tr>`)}
</tbody></table>${grants.length === 0 ? html`<p class="muted">No grants match.</p>` : ''}${more ? html`<p class="muted">Only the first ${grants.length} are shown: narrow the dates.</p>` : ''}`;
}

function decisionForm(g: Grant, csrf: string): Html {
  return html`<form id="decision" method="post" action="/console/break-glass/${g.id}/review">
<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="patient" value="${g.patient_id}">
<label>Note<br><textarea name="note" rows="3" cols="70" maxlength="2000">${g.review_note ?? ''}</textarea></label><br>
<button type="submit" name="decision" value="appropriate">Appropriate</button>
<button type="submit" name="decision" value="inappropriate">Inappropriate</button>
<button type="submit" name="decision" value="needs-info">Needs information</button></form>`;
}

export function grantBody(d: GrantDetail, p: People, decide: { csrf: string } | undefined): Html {
  const g = d.grant;
  return html`<p><a href="/console/break-glass">← all grants</a></p>
<table class="facts" id="grant"><tbody>
<tr><th>Reason</th><td id="reason">${g.reason}</td></tr><tr><th>Category</th><td>${g.category}</td></tr>
<tr><th>Grantee</th><td>${person(g.user_id, p)} (${p.roles.get(g.user_id) ?? 'no longer a member'})</td></tr><tr><th>Patient</th><td>${patient(g.patient_id)}</td></tr>
<tr><th>Granted</th><td>${isoOf(g.created_at)}</td></tr><tr><th>Expires</th><td>${isoOf(g.expires_at)}</td></tr>
<tr><th>Revoked</th><td>${g.revoked_at ? html`${isoOf(g.revoked_at)} by ${g.revoked_by?.startsWith('Patient/') ? g.revoked_by : person(g.revoked_by, p)}` : '—'}</td></tr>
<tr><th>Now</th><td>${grantStatus(g)}</td></tr>
<tr><th>Review</th><td id="review-status">${review(g)}${g.reviewed_at ? html` · ${isoOf(g.reviewed_at)} by ${person(g.reviewed_by, p)}${g.review_note ? html`: ${g.review_note}` : ''}` : ''}</td></tr>
</tbody></table>
<h2>Decision</h2>${decide ? decisionForm(g, decide.csrf) : html`<p class="muted">Your role does not hold compliance.breakGlass.review: this grant is shown read-only.</p>`}
<h2>Accesses under this grant (${d.accesses.length})</h2>
<table id="accesses"><thead><tr><th>When</th><th>What</th><th>How</th><th>Outcome</th><th></th></tr></thead><tbody>
${d.accesses.map((r) => html`<tr class="access"><td>${isoOf(r.last_updated)}</td><td>${entityOf(r)}</td><td>${r.subtype} (${r.action})</td><td>${OUTCOMES[r.outcome] ?? r.outcome}</td><td><a href="/console/events/${r.id}">raw</a></td></tr>`)}
</tbody></table>${d.accesses.length === 0 ? html`<p class="muted">Nothing was opened under this grant.</p>` : ''}
<h2>History</h2>
<table id="history"><thead><tr><th>When</th><th>Event</th><th>By</th><th>Detail</th></tr></thead><tbody>
${d.events.map((e) => html`<tr class="event ${e.kind}"><td>${isoOf(e.at)}</td><td>${e.kind}</td><td>${e.actor.startsWith('Patient/') || e.actor === 'system' ? e.actor : person(e.actor, p)}</td><td>${e.detail ? JSON.stringify(e.detail) : ''}</td></tr>`)}
</tbody></table>`;
}
