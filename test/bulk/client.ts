import { expect } from 'chai';
import type supertest from 'supertest';
import { api } from '../helpers/server';

type Auth = Record<string, string>;

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string; count: number }>;
  error: unknown[];
}

/** A path below the server from an absolute URL the server handed out (Content-Location, manifest urls). */
export const pathOf = (url: string) => { const u = new URL(url); return `${u.pathname}${u.search}`; };

/** The kick-off as a Bulk Data client sends it; returns the raw answer. */
export async function kickOffRaw(auth: Auth, path: string, headers: Record<string, string> = { Prefer: 'respond-async' }): Promise<supertest.Response> {
  return (await api()).get(path).set(auth).set('Accept', 'application/fhir+json').set(headers);
}

/** Kick-off that must be accepted: the status URL. */
export async function kickOff(auth: Auth, path: string): Promise<string> {
  const res = await kickOffRaw(auth, path);
  expect(res.status, res.text.slice(0, 500)).to.equal(202);
  const location = res.headers['content-location'] as string;
  expect(location).to.match(/^http:\/\/fhir\.test\/fhir\/\$export-status\/[0-9a-f-]{36}$/);
  return location;
}

/** Polls the status URL as a client does (202 with X-Progress until 200), without timing anything. */
export async function untilDone(auth: Auth, statusUrl: string): Promise<supertest.Response> {
  for (let i = 0; i < 600; i++) {
    const res = await (await api()).get(pathOf(statusUrl)).set(auth);
    if (res.status !== 202) return res;
    expect(res.headers['x-progress']).to.be.a('string');
    expect(res.headers['retry-after']).to.match(/^\d+$/);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the export did not finish');
}

export async function manifestOf(auth: Auth, statusUrl: string): Promise<Manifest> {
  const res = await untilDone(auth, statusUrl);
  expect(res.status, res.text.slice(0, 500)).to.equal(200);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  return JSON.parse(res.text) as Manifest;
}

/** One NDJSON file downloaded with the token: its resources, line by line. */
export async function download(auth: Auth, url: string): Promise<Array<Record<string, unknown>>> {
  const res = await (await api()).get(pathOf(url)).set(auth).buffer(true).parse((r, cb) => {
    let text = '';
    r.setEncoding('utf8');
    r.on('data', (c: string) => { text += c; });
    r.on('end', () => cb(null, text));
  });
  expect(res.status, String(res.body).slice(0, 300)).to.equal(200);
  expect(res.headers['content-type']).to.match(/^application\/fhir\+ndjson/);
  const text = res.body as string;
  expect(text.endsWith('\n')).to.equal(true);
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every resource of an export, by type, in file order. */
export async function exported(auth: Auth, m: Manifest): Promise<Record<string, Array<Record<string, unknown>>>> {
  const out: Record<string, Array<Record<string, unknown>>> = {};
  for (const f of m.output) {
    const lines = await download(auth, f.url);
    expect(lines.length, f.url).to.equal(f.count);
    for (const r of lines) expect(r.resourceType).to.equal(f.type);
    (out[f.type] ??= []).push(...lines);
  }
  return out;
}
