import fs from 'node:fs';

/** One instruction of a Dockerfile, continuation lines joined: `COPY --from=build /app/dist ./dist`. */
export interface Instruction { op: string; args: string }
export interface Stage { from: string; name?: string; steps: Instruction[] }

/** The stages of a Dockerfile in order (comments and parser directives dropped). */
export function readDockerfile(file: string): Stage[] {
  const joined = fs.readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(trimmed) ?? [];
    if (!op) throw new Error(`unreadable Dockerfile line: ${trimmed}`);
    const instruction = { op: op.toUpperCase(), args: args.replace(/\s+/g, ' ').trim() };
    if (instruction.op === 'FROM') {
      const [image, as, name] = instruction.args.split(' ');
      stages.push({ from: image, name: as?.toUpperCase() === 'AS' ? name : undefined, steps: [] });
    } else {
      if (!stages.length) throw new Error(`${instruction.op} before FROM`);
      stages[stages.length - 1].steps.push(instruction);
    }
  }
  return stages;
}

/** `ENV A=1 B=2` of a stage as one record. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of stage.steps.filter((i) => i.op === 'ENV')) {
    for (const pair of s.args.split(' ')) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** `RUN a && b` as its commands. */
export function runCommands(stage: Stage): string[] {
  return stage.steps.filter((i) => i.op === 'RUN').flatMap((i) => i.args.split('&&').map((c) => c.trim()));
}

/** `COPY [--from=x] src... dest` as sources and destination. */
export function copies(stage: Stage): Array<{ from?: string; sources: string[]; dest: string }> {
  return stage.steps.filter((i) => i.op === 'COPY').map((i) => {
    const words = i.args.split(' ');
    const from = words[0].startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
    const dest = words.pop()!;
    return { from, sources: words, dest };
  });
}
