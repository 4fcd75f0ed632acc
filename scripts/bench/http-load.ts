import autocannon from 'autocannon';
import { type CpuWatch, type Measurement, Recorder } from './measure';

/** One request: its own path, token (clinic) and body, so reads rotate over many ids. */
export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  token: string;
  body?: string;
  /** A Cookie header (the console's session), sent besides the bearer token. */
  cookie?: string;
}

export interface HttpScenario { next(): HttpRequestSpec }

function run(url: string, s: HttpScenario, connections: number, seconds: number, rec?: Recorder): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url,
      connections,
      duration: seconds,
      timeout: 10,
      requests: [{
        setupRequest: (req) => {
          const n = s.next();
          const headers: Record<string, string> = { ...req.headers, authorization: `Bearer ${n.token}`, accept: 'application/fhir+json' };
          if (n.body !== undefined) headers['content-type'] = 'application/fhir+json';
          if (n.cookie !== undefined) headers.cookie = n.cookie;
          return { ...req, method: n.method, path: n.path, headers, ...(n.body !== undefined ? { body: n.body } : {}) };
        },
      }],
    }, (err, result) => (err ? reject(err) : resolve(result)));
    if (!rec) return;
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) rec.ok(ms);
      else rec.error(ms, `HTTP ${status}`);
    });
    instance.on('reqError', (err: Error) => rec.error(undefined, err.message.slice(0, 80)));
  });
}

/** Warms the scenario up, then measures it for `seconds` at `connections` concurrent connections. */
export async function driveHttp(url: string, s: HttpScenario, opts: { connections: number; seconds: number; warmup: number; rssPid?: number; cpu?: CpuWatch }): Promise<Measurement> {
  if (opts.warmup > 0) await run(url, s, opts.connections, opts.warmup);
  const rec = new Recorder(opts.rssPid, opts.cpu);
  // Timeouts and connection errors arrive as reqError events, so the recorder has counted them.
  await run(url, s, opts.connections, opts.seconds, rec);
  return rec.finish();
}
