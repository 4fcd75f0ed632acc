import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

// The relative import graph of server/ and db/, type-only imports included (a cycle of types is
// still a cycle of ideas), read with a regex: enough for this codebase's one-statement imports.

const ROOT = path.resolve(__dirname, '..', '..');
const IMPORT = /^\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/gm;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => f.endsWith('.ts') && fs.existsSync(f));
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const deps = [...text.matchAll(IMPORT)].map((m) => resolveImport(f, m[1])).filter((d): d is string => d !== undefined);
    graph.set(f, deps);
  }
  return graph;
}

/** Every cycle's files, as one strongly connected component each (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const rel = (f: string) => path.relative(ROOT, f);

describe('module structure of server/ and db/', () => {
  const files = [...sources(path.join(ROOT, 'server')), ...sources(path.join(ROOT, 'db'))];
  const graph = importGraph(files);

  it('the import reader sees the imports (a file known to import two modules has both edges)', () => {
    const parse = path.join(ROOT, 'server', 'fhir', 'search', 'parse.ts');
    expect(graph.get(parse)?.map(rel)).to.include.members(['server/http/errors.ts', 'server/fhir/resources/types.ts']);
    expect(files.length).to.be.greaterThan(50);
  });

  it('the cycle finder reports a cycle when there is one', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).to.deep.equal([['c', 'b', 'a']]);
  });

  it('no module imports itself back through others (no import cycles)', () => {
    expect(cycles(graph).map((c) => c.map(rel).sort())).to.deep.equal([]);
  });

  it('db/ never imports from server/ (configuration reaches it as parameters)', () => {
    const wrong = [...graph].flatMap(([f, deps]) => rel(f).startsWith('db/')
      ? deps.filter((d) => rel(d).startsWith('server/')).map((d) => `${rel(f)} -> ${rel(d)}`)
      : []);
    expect(wrong).to.deep.equal([]);
  });

  // Bottom to top; a room may import only rooms below it (and itself). Top-level files of server/
  // (config, main, boot, cluster, app) wire rooms together and sit outside the order.
  const LAYERS = ['db', 'http', 'ops', 'auth', 'tenancy', 'audit', 'pipeline', 'oauth', 'fhir', 'care', 'documents', 'admin', 'console'];
  const roomOf = (f: string): string | undefined => {
    const parts = rel(f).split('/');
    if (parts[0] === 'db') return 'db';
    return parts.length > 2 ? parts[1] : undefined;
  };

  it(`rooms depend one way, ${LAYERS.join(' < ')}: no import runs back up`, () => {
    const up = [...graph].flatMap(([f, deps]) => deps.filter((d) => {
      const from = roomOf(f);
      const to = roomOf(d);
      return from && to && from !== to && LAYERS.indexOf(to) > LAYERS.indexOf(from);
    }).map((d) => `${rel(f)} -> ${rel(d)}`));
    expect(LAYERS.every((l) => files.some((f) => roomOf(f) === l)), 'every layer has files').to.equal(true);
    expect(up).to.deep.equal([]);
  });
});
