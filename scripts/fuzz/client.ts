/** One HTTP exchange of the fuzz, kept as text so the oracle can scan every byte of it. */

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query below the server's origin, e.g. `/fhir/Patient?_id=...`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** What the generator meant to try, for the summary and a failure message. */
  label: string;
}

export interface FuzzResponse {
  status: number;
  headers: Array<[string, string]>;
  text: string;
}

export const FHIR_JSON = 'application/fhir+json';

/** Sends a request with a bearer token; redirects are not followed (a Binary answers 302 with its link). */
export async function send(baseUrl: string, req: FuzzRequest, token: string): Promise<FuzzResponse> {
  const res = await fetch(baseUrl + req.path, {
    method: req.method,
    headers: { ...req.headers, Authorization: `Bearer ${token}` },
    body: req.body,
    redirect: 'manual',
  });
  const text = await res.text();
  const headers: Array<[string, string]> = [];
  res.headers.forEach((v, k) => headers.push([k, v]));
  return { status: res.status, headers, text };
}

/** The path of a link the server wrote with its own base URL (which may not be where it listens). */
export function pathOf(link: string): string | undefined {
  try {
    const u = new URL(link);
    return u.pathname.startsWith('/fhir') ? u.pathname + u.search : undefined;
  } catch {
    return undefined;
  }
}
