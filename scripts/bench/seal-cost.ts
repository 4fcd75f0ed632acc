import type { Measurement } from './measure';

/** One timed window of a scenario on a server started with the seal on or off. */
export interface SealRun { seal: boolean; key: string; rps: number; cpuMsPerRequest?: number; serverCpuMs?: number; postgresCpuMs?: number; othersCpuPct?: number }

/** What the seal costs one scenario: throughput and CPU per request, seal on against off. */
export interface SealCost {
  key: string;
  /** Mean req/s over the runs with the seal on and off. */
  on: number;
  off: number;
  /** on / off: the target is >= 0.95. */
  ratio: number;
  /** Each adjacent off/on pair's ratio, in run order (how much the machine moved between runs). */
  pairRatios: number[];
  /** Mean CPU per request (server + PostgreSQL, ms), seal on and off, and off / on (the share of throughput the seal's work takes when the CPUs are the limit). */
  cpuOn?: number;
  cpuOff?: number;
  cpuRatio?: number;
}

/**
 * The order of `pairs` off/on pairs, each pair's order flipped from the last (off on, on off, off
 * on ...): a machine that warms up or slows down over the runs weighs on both sides alike.
 */
export function sealOrder(pairs: number): boolean[] {
  const order: boolean[] = [];
  for (let i = 0; i < pairs; i++) order.push(...(i % 2 === 0 ? [false, true] : [true, false]));
  return order;
}

export const cpuPerRequest = (m: Measurement): number | undefined =>
  (m.serverCpuMs === undefined || m.postgresCpuMs === undefined ? undefined : m.serverCpuMs + m.postgresCpuMs);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function sealCosts(runs: SealRun[]): SealCost[] {
  const keys = [...new Set(runs.map((r) => r.key))];
  return keys.map((key) => {
    const mine = runs.filter((r) => r.key === key);
    const on = mean(mine.filter((r) => r.seal).map((r) => r.rps));
    const off = mean(mine.filter((r) => !r.seal).map((r) => r.rps));
    const pairRatios: number[] = [];
    for (let i = 0; i + 1 < mine.length; i += 2) {
      const [a, b] = [mine[i], mine[i + 1]];
      const [o, f] = a.seal ? [a, b] : [b, a];
      pairRatios.push(o.rps / f.rps);
    }
    const cpu = (seal: boolean) => {
      const xs = mine.filter((r) => r.seal === seal).map((r) => r.cpuMsPerRequest);
      return xs.every((x): x is number => x !== undefined) ? mean(xs) : undefined;
    };
    const [cpuOn, cpuOff] = [cpu(true), cpu(false)];
    return {
      key, on, off, ratio: on / off, pairRatios,
      ...(cpuOn !== undefined && cpuOff !== undefined ? { cpuOn, cpuOff, cpuRatio: cpuOff / cpuOn } : {}),
    };
  });
}

export function sealCostLines(costs: SealCost[]): string[] {
  return costs.map((c) => {
    const cpu = c.cpuRatio === undefined ? '' : `; CPU per request ${c.cpuOn!.toFixed(3)} vs ${c.cpuOff!.toFixed(3)} ms = ${c.cpuRatio.toFixed(3)}`;
    return `${c.ratio >= 0.95 ? 'met' : 'MISSED'}: ${c.key} with the seal ${c.on.toFixed(0)} req/s vs ${c.off.toFixed(0)} without = ${c.ratio.toFixed(3)} (>= 0.95)`
      + ` (pairs: ${c.pairRatios.map((r) => r.toFixed(3)).join(', ')}${cpu})`;
  });
}
