/**
 * The one escaping rule of the console's pages: `html` is a tagged template whose every
 * interpolation is escaped, unless it is already Html (made by `html` itself) or a list of it.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string { return this.text; }
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

export const escapeHtml = (v: unknown): string => String(v ?? '')
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function render(p: Part): string {
  if (p instanceof Html) return p.text;
  if (Array.isArray(p)) return p.map(render).join('');
  if (p === null || p === undefined || p === false) return '';
  return escapeHtml(p);
}

export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  return new Html(strings.reduce((out, s, i) => out + s + (i < parts.length ? render(parts[i]) : ''), ''));
}

/** A URL query of the console's own links, built from filter values (escaped again where interpolated). */
export function query(path: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
