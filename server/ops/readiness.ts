/** Whether this node should get traffic: its dependencies answer and it is not draining. */
export interface ReadinessCheck {
  name: string;
  /** Resolves true when the dependency answers; false or a throw means not ready. */
  check(): Promise<boolean>;
}

export interface ReadinessReport {
  ready: boolean;
  /** Names of the checks that failed, and `draining` while the node shuts down. */
  failed: string[];
}

/** A check slower than this counts as failed: a load balancer's probe must not hang on it. */
const CHECK_TIMEOUT_MS = 2_000;

export class Readiness {
  private draining = false;

  constructor(private readonly checks: ReadinessCheck[]) {}

  /** From now on the node reports not ready (SIGTERM): balancers stop sending it new work. */
  drain(): void { this.draining = true; }

  get isDraining(): boolean { return this.draining; }

  async report(): Promise<ReadinessReport> {
    const results = await Promise.all(this.checks.map(async (c) => ({ name: c.name, ok: await withTimeout(c.check()) })));
    const failed = [...(this.draining ? ['draining'] : []), ...results.filter((r) => !r.ok).map((r) => r.name)];
    return { ready: failed.length === 0, failed };
  }
}

async function withTimeout(p: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS); });
  try {
    return await Promise.race([p.then((ok) => ok === true, () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
