import type { VerifyResult } from '../audit/verify';
import { sealLagSeconds } from '../audit/verify';
import { html, type Html } from './html';
import { addOverviewCard } from './overview';
import { addScreen } from './layout';
import { isoOf } from './access-log';

/**
 * The Integrity screen (run $verify for a range, through the same `runVerify` as the API) and the
 * overview's cards for the last $verify result and the seal lag.
 */
addScreen({ path: '/console/integrity', label: 'Integrity' });

/** Verify runs are looked for this far back: the card stays cheap on a large trail. */
const LAST_VERIFY_DAYS = 90;
const OUTCOME = /^\$verify: (valid|invalid|incomplete), (\d+) rows, (\d+) issues$/;

addOverviewCard(async (tx, clinicId) => {
  const row = await tx.trx('audit_event')
    .where({ clinic_id: clinicId, subtype: 'operation', outcome: '0' })
    .whereRaw(`detail->>'operation' = '$verify'`)
    .where('last_updated', '>=', tx.trx.raw(`now() - make_interval(days => ?)`, [LAST_VERIFY_DAYS]))
    .orderBy('last_updated', 'desc').first('last_updated', 'outcome_desc') as { last_updated: Date | string; outcome_desc: string | null } | undefined;
  const m = row?.outcome_desc ? OUTCOME.exec(row.outcome_desc) : null;
  if (!row || !m) return { label: 'Last integrity check ($verify)', value: 'none', note: `no check in the last ${LAST_VERIFY_DAYS} days`, href: '/console/integrity' };
  return { label: 'Last integrity check ($verify)', value: m[1], note: `${isoOf(row.last_updated)}: ${m[2]} rows, ${m[3]} issues`, href: '/console/integrity' };
});

addOverviewCard(async (tx, clinicId) => ({
  label: 'Seal lag', value: `${(await sealLagSeconds(tx.trx, clinicId)).toFixed(1)} s`, note: 'age of the oldest audit row not sealed yet',
}));

export interface IntegrityView { csrf: string; from?: string; to?: string; result?: VerifyResult; error?: string }

const issueRows = (r: VerifyResult): Html[] => r.issues.map((i, n) => html`<tr class="issue ${i.kind}${n === 0 ? ' first' : ''}"><td>${n === 0 ? html`<strong>first</strong>` : ''}</td><td>${i.kind}</td>
<td>${i.auditEventId ? html`<a href="/console/events/${i.auditEventId}">AuditEvent/${i.auditEventId}</a>` : ''}</td><td>${i.message}</td></tr>`);

function resultBody(r: VerifyResult): Html {
  return html`<section id="verify-outcome"><h2>Result: <span id="verify-result" class="verify-${r.result}">${r.result}</span></h2>
<table class="facts"><tbody><tr><th>Rows checked</th><td id="verify-checked">${r.checked}</td></tr>
<tr><th>Verified through</th><td>${r.verifiedThrough ?? '—'}</td></tr><tr><th>Seal lag</th><td id="verify-lag">${r.sealLagSeconds.toFixed(3)} s</td></tr>
<tr><th>Issues</th><td>${r.issues.length}</td></tr></tbody></table>
${r.incomplete.length ? html`<p>Incomplete because:</p><ul>${[...new Set(r.incomplete)].map((m) => html`<li>${m}</li>`)}</ul>` : ''}
${r.issues.length ? html`<table id="verify-issues"><thead><tr><th></th><th>Kind</th><th>AuditEvent</th><th>What</th></tr></thead><tbody>${issueRows(r)}</tbody></table>` : html`<p class="muted">No issues.</p>`}</section>`;
}

export function integrityBody(v: IntegrityView): Html {
  return html`<p>Checks this clinic's audit trail against its seal: every row against the hash it was sealed with, the chain against
the signed checkpoints, and the newest checkpoint against its copy outside the database. Leave the dates empty for the whole trail.</p>
${v.error ? html`<p class="error" role="alert">${v.error}</p>` : ''}
<form class="filters" method="post" action="/console/integrity"><input type="hidden" name="csrf" value="${v.csrf}">
<label>From<input type="date" name="from" value="${v.from ?? ''}"></label><label>To<input type="date" name="to" value="${v.to ?? ''}"></label>
<button type="submit" id="run-verify">Run the integrity check</button></form>
${v.result ? resultBody(v.result) : ''}`;
}
