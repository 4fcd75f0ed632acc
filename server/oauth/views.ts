/**
 * Server-rendered pages of the sign-in and consent steps. Plain HTML forms, no script; every value
 * is escaped. Error texts stay generic: they never tell which accounts exist.
 */
export const esc = (v: unknown): string => String(v ?? '')
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const STYLE = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password],input[type=text],select{width:100%;padding:.5rem;font-size:1rem}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#a00;font-weight:600}.scope{margin:.4rem 0}small{color:#555}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

export const SIGN_IN_FAILED = 'Sign-in failed. Check your email, password and one-time code, or try again later.';

export function loginPage(v: { uid: string; csrf: string; clientName: string; error?: boolean }): string {
  return page('Sign in', `
<p>to continue to <strong>${esc(v.clientName)}</strong></p>
${v.error ? `<p class="error" role="alert">${esc(SIGN_IN_FAILED)}</p>` : ''}
<form method="post" action="/oauth/interaction/${esc(v.uid)}/login" autocomplete="off">
<input type="hidden" name="csrf" value="${esc(v.csrf)}">
<label for="email">Email</label><input id="email" type="email" name="email" required autofocus autocomplete="username">
<label for="password">Password</label><input id="password" type="password" name="password" required autocomplete="current-password">
<label for="code">One-time code</label><input id="code" type="text" name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code">
<button type="submit">Sign in</button>
</form>`);
}

export function clinicPage(v: { uid: string; clinics: Array<{ id: string; name: string }> }): string {
  return page('Choose a clinic', `
<form method="get" action="/oauth/interaction/${esc(v.uid)}">
<label for="clinic">You work at several clinics. Sign in to:</label>
<select id="clinic" name="clinic">${v.clinics.map((c) => `<option value="${esc(c.id)}">${esc(c.name)}</option>`).join('')}</select>
<button type="submit">Continue</button>
</form>`);
}

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  clinic: { id: string; name: string };
  /** Set when the user must pick the patient (standalone launch/patient). */
  patients?: Array<{ id: string; label: string }>;
  patientQuery?: string;
  /** The patient fixed by an EHR launch. */
  fixedPatient?: string;
  scopes: Array<{ scope: string; text: string }>;
}

export function consentPage(v: ConsentView): string {
  const search = v.patients ? `
<form method="get" action="/oauth/interaction/${esc(v.uid)}">
<input type="hidden" name="clinic" value="${esc(v.clinic.id)}">
<label for="q">Find a patient by name</label><input id="q" type="text" name="q" value="${esc(v.patientQuery)}">
<button type="submit">Search</button>
</form>` : '';
  const patientChoice = v.patients ? `<fieldset><legend>Patient</legend>${v.patients.length === 0 ? '<p>No matching patient you may see.</p>' : v.patients.map((p, i) =>
    `<div><input type="radio" id="p${i}" name="patient" value="${esc(p.id)}"${i === 0 ? ' checked' : ''} required><label for="p${i}" style="display:inline">${esc(p.label)}</label></div>`).join('')}</fieldset>` : '';
  return page('Allow access?', `
<p><strong>${esc(v.clientName)}</strong> asks to act for you at <strong>${esc(v.clinic.name)}</strong>.</p>
${v.fixedPatient ? `<p>Patient in context: <strong>${esc(v.fixedPatient)}</strong></p>` : ''}
${search}
<form method="post" action="/oauth/interaction/${esc(v.uid)}/consent">
<input type="hidden" name="csrf" value="${esc(v.csrf)}">
<input type="hidden" name="clinic" value="${esc(v.clinic.id)}">
${patientChoice}
<fieldset><legend>It may (untick what you do not allow)</legend>
${v.scopes.map((s, i) => `<div class="scope"><input type="checkbox" id="s${i}" name="scope" value="${esc(s.scope)}" checked><label for="s${i}" style="display:inline">${esc(s.text)}</label> <small>${esc(s.scope)}</small></div>`).join('\n')}
</fieldset>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`);
}

export function errorPage(error: string, description?: string): string {
  return page('Request refused', `<p class="error">${esc(error)}</p>${description ? `<p>${esc(description)}</p>` : ''}<p>You can close this page and start again from the app.</p>`);
}

/** The sign-in cookie never came back because it is Secure and the page is plain http: say so, not "expired". */
export const SECURE_COOKIE_OVER_HTTP = 'This browser did not send back the sign-in cookie: the server marks its cookies Secure (COOKIE_SECURE=true) '
  + 'and this page was opened over plain http, where browsers drop Secure cookies (except on localhost). Open the server over https, '
  + 'or, for a trial on a private network only, start it with COOKIE_SECURE=false.';

/** oidc-provider's logout form (it carries its own CSRF field) with our page around it. */
export function logoutPage(form: string): string {
  return page('Sign out', `${form}<p>Sign out of this server?</p><button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`);
}

export function signedOutPage(): string {
  return page('Signed out', '<p>You are signed out.</p>');
}
