import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * ESLint's `import-x/no-cycle` (npm run check) catches runtime import cycles; it skips
 * `import type`. This walk counts type imports too, so two modules that need one shape find it
 * in a lower module (src/runtime, src/graphql/context.ts) instead of in each other.
 */
const root = path.resolve(__dirname, '../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const specifier = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']*)'/g;
  for (const file of files) {
    const targets: string[] = [];
    for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
      const base = path.resolve(path.dirname(file), match[1]!);
      const target = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => existsSync(f));
      if (target) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(path.relative(root, w));
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import graph', () => {
  it('has no cycle in src/, counting type-only imports', () => {
    expect(cycles(importGraph(tsFiles(path.join(root, 'src'))))).toEqual([]);
  });

  it('reads type-only and multi-line imports', () => {
    const graph = importGraph([path.join(root, 'src/app.ts')]);
    expect(graph.get(path.join(root, 'src/app.ts'))).toEqual(
      expect.arrayContaining([
        path.join(root, 'src/runtime/background-service.ts'),
        path.join(root, 'src/context/deps.ts'),
      ]),
    );
  });

  it('finds a cycle when there is one (the walk itself works)', () => {
    const a = path.join(root, 'a.ts');
    const b = path.join(root, 'b.ts');
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
      ),
    ).toEqual([['a.ts', 'b.ts']]);
  });
});
