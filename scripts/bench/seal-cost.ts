import type { Measurement } from './measure';

/** One timed window of a scenario on the server with the seal on or off (both measured at once). */
export interface SealRun {
  seal: boolean; key: string; round: number; rps: number; errors: number; errorSamples: string[];
  cpuMsPerRequest?: number; serverCpuMs?: number; postgresCpuMs?: number;
}

/** What the seal costs one scenario: throughput and CPU per request, seal on against off. */
export interface SealCost {
  key: string;
  /** Mean req/s over the rounds with the seal on and off. */
  on: number;
  off: number;
  /** on / off: the target is >= 0.95. */
  ratio: number;
  /** Each round's on / off (the two servers measured in the same window). */
  roundRatios: number[];
  /** Mean CPU per request (server + its PostgreSQL, ms), seal on and off, and off / on. */
  cpuOn?: number;
  cpuOff?: number;
  cpuRatio?: number;
}

const cpuPerRequest = (m: Measurement): number | undefined =>
  (m.serverCpuMs === undefined || m.postgresCpuMs === undefined ? undefined : m.serverCpuMs + m.postgresCpuMs);

export const sealRun = (seal: boolean, key: string, round: number, m: Measurement): SealRun => ({
  seal, key, round, rps: m.rps, errors: m.errors, errorSamples: m.errorSamples, cpuMsPerRequest: cpuPerRequest(m), serverCpuMs: m.serverCpuMs, postgresCpuMs: m.postgresCpuMs,
});

export const describeRun = (title: string, r: SealRun): string =>
  `${title}, seal ${r.seal ? 'on' : 'off'}: ${r.rps.toFixed(0)} req/s${r.cpuMsPerRequest === undefined ? ''
    : `, ${r.cpuMsPerRequest.toFixed(3)} ms CPU per request (server ${r.serverCpuMs?.toFixed(3)}, PostgreSQL ${r.postgresCpuMs?.toFixed(3)})`}${r.errors ? `, ${r.errors} errors (${r.errorSamples.join('; ')})` : ''}`;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function sealCosts(runs: SealRun[]): SealCost[] {
  const keys = [...new Set(runs.map((r) => r.key))];
  return keys.map((key) => {
    const mine = runs.filter((r) => r.key === key);
    const on = mean(mine.filter((r) => r.seal).map((r) => r.rps));
    const off = mean(mine.filter((r) => !r.seal).map((r) => r.rps));
    const rounds = [...new Set(mine.map((r) => r.round))];
    const roundRatios = rounds.map((n) => {
      const o = mine.find((r) => r.round === n && r.seal);
      const f = mine.find((r) => r.round === n && !r.seal);
      return o && f ? o.rps / f.rps : Number.NaN;
    });
    const cpu = (seal: boolean) => {
      const xs = mine.filter((r) => r.seal === seal).map((r) => r.cpuMsPerRequest);
      return xs.every((x): x is number => x !== undefined) ? mean(xs) : undefined;
    };
    const [cpuOn, cpuOff] = [cpu(true), cpu(false)];
    return {
      key, on, off, ratio: on / off, roundRatios,
      ...(cpuOn !== undefined && cpuOff !== undefined ? { cpuOn, cpuOff, cpuRatio: cpuOff / cpuOn } : {}),
    };
  });
}

export function sealCostLines(costs: SealCost[]): string[] {
  return costs.map((c) => {
    const cpu = c.cpuRatio === undefined ? '' : `; CPU per request ${c.cpuOn!.toFixed(3)} vs ${c.cpuOff!.toFixed(3)} ms = ${c.cpuRatio.toFixed(3)}`;
    return `${c.ratio >= 0.95 ? 'met' : 'MISSED'}: ${c.key} with the seal ${c.on.toFixed(0)} req/s vs ${c.off.toFixed(0)} without = ${c.ratio.toFixed(3)} (>= 0.95)`
      + ` (rounds: ${c.roundRatios.map((r) => r.toFixed(3)).join(', ')}${cpu})`;
  });
}
