import type { BenchClinic } from './scenarios';
import { rssMb } from './server-process';

/** What one bulk export under the benchmark did, and the server's resident memory around it. */
export interface ExportResult {
  resources: number;
  files: number;
  seconds: number;
  rssBeforeMb?: number;
  rssPeakMb?: number;
  rssAfterMb?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Newline count of a streamed download: the file is never held here either. */
async function countLines(url: string, token: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok || !res.body) throw new Error(`downloading an export file answered ${res.status}`);
  let lines = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) for (const b of chunk) if (b === 10) lines++;
  return lines;
}

/**
 * `--scenarios export`: each clinic's doctor exports its patients' compartments (Patient/$export,
 * every type) through the Bulk Data flow and downloads every file, while the server's RSS is
 * sampled: memory should stay flat however many patients there are (files are cut at BULK_FILE_ROWS).
 */
export async function measureExport(url: string, clinics: readonly BenchClinic[], serverPid: number | undefined): Promise<ExportResult> {
  const rss = () => (serverPid ? rssMb(serverPid) : undefined);
  const started = Date.now();
  const before = rss();
  let peak = before ?? 0;
  const sampler = setInterval(() => { peak = Math.max(peak, rss() ?? 0); }, 100);
  let resources = 0;
  let files = 0;
  try {
    for (const c of clinics) {
      const kick = await fetch(`${url}/fhir/Patient/$export`, { headers: { authorization: `Bearer ${c.doctorToken}`, prefer: 'respond-async', accept: 'application/fhir+json' } });
      const status = kick.headers.get('content-location');
      if (kick.status !== 202 || !status) throw new Error(`export kick-off answered ${kick.status}: ${(await kick.text()).slice(0, 300)}`);
      let manifest: { output: Array<{ url: string; count: number }> } | undefined;
      while (!manifest) {
        const poll = await fetch(status, { headers: { authorization: `Bearer ${c.doctorToken}` } });
        if (poll.status === 200) manifest = await poll.json() as typeof manifest;
        else if (poll.status === 202) { await poll.arrayBuffer(); await sleep(500); } else throw new Error(`export status answered ${poll.status}: ${(await poll.text()).slice(0, 300)}`);
      }
      for (const f of manifest?.output ?? []) {
        const n = await countLines(f.url, c.doctorToken);
        if (n !== f.count) throw new Error(`an export file held ${n} lines, its manifest says ${f.count}`);
        resources += n;
        files++;
      }
      process.stderr.write(`  export: ${resources} resources in ${files} files so far, server RSS peak ${peak.toFixed(0)} MB\n`);
    }
  } finally {
    clearInterval(sampler);
  }
  return { resources, files, seconds: (Date.now() - started) / 1000, rssBeforeMb: before, rssPeakMb: peak || undefined, rssAfterMb: rss() };
}
