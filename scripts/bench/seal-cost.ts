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
  /** The 95 % interval of the mean round ratio (Student's t over the rounds; undefined with fewer than 2). */
  interval?: [number, number];
  /** Each round's CPU per request, off / on (1 = the seal costs nothing; 0.95 = 5 % more CPU with it). */
  roundCpuRatios?: number[];
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

/** Student's t for a two-sided 95 % interval, by degrees of freedom (1-30; beyond, the normal's 1.96 is close enough). */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
  2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];

/** The 95 % interval of the mean of `xs` (rounds are independent paired windows). */
export function interval95(xs: number[]): [number, number] | undefined {
  if (xs.length < 2 || xs.some((x) => !Number.isFinite(x))) return undefined;
  const m = mean(xs);
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  const half = (T95[xs.length - 2] ?? 1.96) * sd / Math.sqrt(xs.length);
  return [m - half, m + half];
}

export function sealCosts(runs: SealRun[]): SealCost[] {
  const keys = [...new Set(runs.map((r) => r.key))];
  return keys.map((key) => {
    const mine = runs.filter((r) => r.key === key);
    const on = mean(mine.filter((r) => r.seal).map((r) => r.rps));
    const off = mean(mine.filter((r) => !r.seal).map((r) => r.rps));
    const rounds = [...new Set(mine.map((r) => r.round))];
    // Each round's seal-on run against its seal-off run, by `ratio` (NaN when either is missing).
    const perRound = (ratio: (on: SealRun, off: SealRun) => number | undefined) => rounds.map((n) => {
      const o = mine.find((r) => r.round === n && r.seal);
      const f = mine.find((r) => r.round === n && !r.seal);
      return (o && f ? ratio(o, f) : undefined) ?? Number.NaN;
    });
    const roundRatios = perRound((o, f) => o.rps / f.rps);
    const cpu = (seal: boolean) => {
      const xs = mine.filter((r) => r.seal === seal).map((r) => r.cpuMsPerRequest);
      return xs.every((x): x is number => x !== undefined) ? mean(xs) : undefined;
    };
    const [cpuOn, cpuOff] = [cpu(true), cpu(false)];
    const roundCpuRatios = perRound((o, f) => (o.cpuMsPerRequest !== undefined && f.cpuMsPerRequest !== undefined ? f.cpuMsPerRequest / o.cpuMsPerRequest : undefined));
    const interval = interval95(roundRatios);
    return {
      key, on, off, ratio: on / off, roundRatios, ...(interval ? { interval } : {}),
      ...(cpuOn !== undefined && cpuOff !== undefined ? { cpuOn, cpuOff, cpuRatio: cpuOff / cpuOn, roundCpuRatios } : {}),
    };
  });
}

export function sealCostLines(costs: SealCost[]): string[] {
  return costs.map((c) => {
    const cpu = c.cpuRatio === undefined ? '' : `; CPU per request ${c.cpuOn!.toFixed(3)} vs ${c.cpuOff!.toFixed(3)} ms = ${c.cpuRatio.toFixed(3)}`
      + ` (rounds: ${c.roundCpuRatios!.map((r) => r.toFixed(3)).join(', ')})`;
    // The verdict is on the mean; the interval says whether the rounds could tell it from 0.95 at all.
    const interval = c.interval ? `; 95 % interval of the rounds' mean ${c.interval[0].toFixed(3)}-${c.interval[1].toFixed(3)}` : '';
    return `${c.ratio >= 0.95 ? 'met' : 'MISSED'}: ${c.key} with the seal ${c.on.toFixed(0)} req/s vs ${c.off.toFixed(0)} without = ${c.ratio.toFixed(3)} (>= 0.95)`
      + ` (rounds: ${c.roundRatios.map((r) => r.toFixed(3)).join(', ')}${interval}${cpu})`;
  });
}
