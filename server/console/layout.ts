import type { Response } from 'express';
import { html, type Html } from './html';

/**
 * The screens in the navigation, in order. Screens built elsewhere (Integrity, Break-glass review,
 * Patient report) join by appending here with `addScreen`, and their router under /console.
 */
export interface Screen { path: string; label: string }
export const SCREENS: Screen[] = [
  { path: '/console', label: 'Overview' },
  { path: '/console/access', label: 'Access log' },
  { path: '/console/changes', label: 'Privileged changes' },
  { path: '/console/alerts', label: 'Alerts' },
];
export function addScreen(s: Screen): void { if (!SCREENS.some((x) => x.path === s.path)) SCREENS.push(s); }

/** No script at all, styles from our own sheet only, forms post only here, never framed. */
export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const STYLESHEET = `body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b}
header{background:#17324d;color:#fff;padding:.6rem 1rem;display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header a.on{text-decoration:underline}header form{margin-left:auto}
main{padding:1rem 1.5rem;max-width:80rem}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f3f5f7}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ccd;border-radius:.4rem;padding:.8rem 1rem;min-width:12rem}
.card b{display:block;font-size:1.8rem}.error{color:#a00;font-weight:600;border:1px solid #a00;padding:.5rem}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:.8rem 0}form.filters label{display:flex;flex-direction:column;font-size:.8rem}
.added{background:#e6ffe6}.removed{background:#ffe6e6}.changed{background:#fff6d6}pre{background:#f6f8fa;padding:.8rem;overflow:auto}
.muted{color:#666}.btg{color:#a00;font-weight:600}
.verify-valid{color:#0a6b2a}.verify-invalid{color:#a00}.verify-incomplete{color:#8a5a00}tr.issue.first{background:#ffe6e6}table.facts{width:auto}`;

export interface PageView { title: string; active?: string; csrf?: string; user?: string }

export function layout(v: PageView, body: Html): Html {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${v.title} · Compliance console</title><link rel="stylesheet" href="/console/style.css"></head><body>
<header><strong>Compliance console</strong>${SCREENS.map((s) => html`<a href="${s.path}" class="${s.path === v.active ? 'on' : ''}">${s.label}</a>`)}
${v.csrf ? html`<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${v.csrf}"><span>${v.user ?? ''}</span> <button type="submit">Sign out</button></form>` : ''}</header>
<main><h1>${v.title}</h1>${body}</main></body></html>`;
}

export function sendHtml(res: Response, status: number, page: Html): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.status(status).end(page.text);
}
