import { type FuzzRequest, pathOf, send } from './client';
import { RequestGenerator } from './generate';
import { echoesForeignId, type Finding, judge, type OracleContext, parseBody, plantedIds, requestIds, uuidsIn } from './oracle';
import { Rng } from './prng';
import type { ClinicName, Registry } from './registry';
import { buildWorld, type Caller, type FuzzDeps } from './world';

/** Runs a seeded stream of requests against a server and judges every answer. */

export interface FailedRequest {
  index: number;
  caller: string;
  request: FuzzRequest;
  status: number;
  finding: Finding;
  response: string;
}

export interface FuzzSummary {
  seed: number;
  requests: number;
  byStatusClass: Record<string, number>;
  byLabel: Record<string, Record<string, number>>;
  /** Refusals that repeated a foreign id the caller itself asked for (not a leak; see oracle.ts). */
  echoes: number;
  leaks: number;
  /** Ids of a known owner judged in answers, and requests that named another clinic's or patient's id. */
  checkedIds: number;
  foreignAttempts: number;
  serverErrors: number;
  failures: FailedRequest[];
  setupMs: number;
  runMs: number;
}

export interface FuzzOptions {
  seed: number;
  requests: number;
  /** Stops collecting after this many failures (the run goes on so the summary stays whole). */
  maxFailures?: number;
  onProgress?(done: number): void;
}

type Json = Record<string, unknown>;

/** Every resource in a body, nested Bundles included, and the `next` links of its Bundles. */
function walk(value: unknown, resources: Json[], links: string[]): void {
  const j = value as Json;
  if (!j || typeof j !== 'object' || typeof j.resourceType !== 'string') return;
  if (j.resourceType === 'Bundle') {
    for (const l of (j.link as Json[] | undefined) ?? []) if (l.relation === 'next' && typeof l.url === 'string') links.push(l.url);
    for (const e of (j.entry as Json[] | undefined) ?? []) {
      walk(e.resource, resources, links);
      walk((e.response as Json | undefined)?.outcome, resources, links);
    }
  } else resources.push(j);
}

/** True when the request names an id of the other clinic (an attempt the oracle then watches). */
function foreignIn(ctx: OracleContext): boolean {
  return [...requestIds(ctx.request)].some((id) => { const o = ctx.registry.owner(id); return !!o && o.clinic !== ctx.caller.clinic; });
}

/** What the fuzz learns from an answer: new ids (owned by the caller's clinic), and paging links. */
function learn(registry: Registry, gen: RequestGenerator, caller: Caller, ctx: OracleContext): void {
  const body = parseBody(ctx.response.text);
  const resources: Json[] = [];
  const links: string[] = [];
  walk(body, resources, links);
  for (const l of links) { const p = pathOf(l); if (p) gen.saveLink(p, caller); }
  const shown = uuidsIn(ctx.response.headers.map(([, v]) => v).join(' ') + ctx.response.text);
  if (caller.forged) {
    // A forged token's request may be recorded in either trail: its ids are no evidence of a leak there.
    for (const c of ['A', 'B'] as const) for (const id of [...shown, caller.userId]) ctx.mentioned[c].add(id);
    return;
  }
  if (ctx.response.status < 400) for (const r of resources) if (r.resourceType !== 'OperationOutcome') registry.addResource(r, caller.clinic);
  for (const id of shown) registry.add(id, caller.clinic, 'other');
}

export async function runFuzz(deps: FuzzDeps, opts: FuzzOptions): Promise<FuzzSummary> {
  const setupStart = Date.now();
  const world = await buildWorld(deps, `s${opts.seed}-${Date.now().toString(36)}`);
  const setupMs = Date.now() - setupStart;
  const gen = new RequestGenerator(new Rng(opts.seed), world);
  const mentioned: Record<ClinicName, Set<string>> = { A: new Set(), B: new Set() };
  const planted: Record<ClinicName, Set<string>> = { A: new Set(), B: new Set() };
  const summary: FuzzSummary = { seed: opts.seed, requests: 0, byStatusClass: {}, byLabel: {}, echoes: 0, leaks: 0, checkedIds: 0, foreignAttempts: 0, serverErrors: 0, failures: [], setupMs, runMs: 0 };
  const runStart = Date.now();
  for (let index = 0; index < opts.requests; index++) {
    const { caller, request } = gen.next();
    const response = await send(deps.baseUrl, request, caller.token);
    const ctx: OracleContext = { caller, request, response, registry: world.registry, mentioned, planted };
    const verdict = judge(ctx);
    summary.checkedIds += verdict.checked;
    if (foreignIn(ctx)) summary.foreignAttempts++;
    for (const finding of verdict.findings) {
      if (finding.problem === 'server-error') summary.serverErrors++; else summary.leaks++;
      if (summary.failures.length < (opts.maxFailures ?? 20)) {
        summary.failures.push({ index, caller: caller.name, request, status: response.status, finding, response: response.text.slice(0, 600) });
      }
    }
    if (echoesForeignId(ctx)) summary.echoes++;
    // A forged token's attempt is recorded in the trail of the clinic it names.
    for (const c of caller.forged ? (['A', 'B'] as const) : [caller.clinic]) for (const id of requestIds(request)) mentioned[c].add(id);
    if (!caller.forged && response.status < 400) for (const id of plantedIds(request)) planted[caller.clinic].add(id);
    learn(world.registry, gen, caller, ctx);
    if (process.env.FUZZ_TRACE) process.stderr.write(`#${index} ${caller.name} ${request.method} ${request.path} ${request.body?.slice(0, 2000) ?? ''} -> ${response.status} ${response.text.slice(0, 3000)}\n`);
    const cls = `${Math.floor(response.status / 100)}xx`;
    summary.byStatusClass[cls] = (summary.byStatusClass[cls] ?? 0) + 1;
    const byLabel = (summary.byLabel[request.label] ??= {});
    byLabel[String(response.status)] = (byLabel[String(response.status)] ?? 0) + 1;
    summary.requests++;
    opts.onProgress?.(index + 1);
  }
  summary.runMs = Date.now() - runStart;
  return summary;
}

/** The one-line result a run ends with. */
export function summaryLine(s: FuzzSummary): string {
  const classes = ['2xx', '3xx', '4xx', '5xx'].map((c) => `${c}=${s.byStatusClass[c] ?? 0}`).join(' ');
  return `fuzz seed=${s.seed} requests=${s.requests} ${classes} leaks=${s.leaks} server-errors=${s.serverErrors} foreign-attempts=${s.foreignAttempts} ids-judged=${s.checkedIds} echoed-own-request-ids=${s.echoes} `
    + `setup=${(s.setupMs / 1000).toFixed(1)}s run=${(s.runMs / 1000).toFixed(1)}s (${Math.round(s.requests / Math.max(0.001, s.runMs / 1000))}/s)`;
}

/** A failure as a message that says how to replay it. */
export function describeFailure(s: FuzzSummary, f: FailedRequest): string {
  return [
    `seed ${s.seed}, request #${f.index} (${f.request.label}) by ${f.caller}: ${f.finding.problem} at ${f.finding.where}${f.finding.id ? ` id ${f.finding.id}` : ''}: ${f.finding.detail}`,
    `  ${f.request.method} ${f.request.path}${f.request.body ? `\n  body: ${f.request.body.slice(0, 400)}` : ''}`,
    `  -> ${f.status} ${f.response.slice(0, 400)}`,
    ...(f.finding.excerpt ? [`  found in: ...${f.finding.excerpt}...`] : []),
    `  replay: npm run fuzz -- --requests ${f.index + 1} --seed ${s.seed}`,
  ].join('\n');
}
