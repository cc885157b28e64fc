import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads the V8 CPU profile that `node --cpu-prof` writes when the server exits and sums self time
 * by function and by package, so the report can say where the server's CPU went.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Time not idle, not GC, not the program root. */
  busyMs: number;
  gcMs: number;
  byPackage: ProfileEntry[];
  byFunction: ProfileEntry[];
}

/** `node_modules/graphql/...` -> graphql; project files -> src/...; node internals -> node:... */
function packageOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node (internals)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return url
      .slice(dist + '/dist/'.length)
      .split('/')
      .slice(0, 2)
      .join('/');
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') {
      continue;
    }
    busy += us;
    if (functionName === '(garbage collector)') {
      gc += us;
      continue;
    }
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const p = packageOf(url);
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  pkg.set('(garbage collector)', gc);
  const entries = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        selfMs: Math.round(us / 100) / 10,
        share: Math.round((us / Math.max(1, busy)) * 1000) / 10,
      }));
  return {
    file,
    totalMs: Math.round((profile.endTime - profile.startTime) / 1000),
    busyMs: Math.round(busy / 1000),
    gcMs: Math.round(gc / 1000),
    byPackage: entries(pkg),
    byFunction: entries(fn),
  };
}

/** The newest .cpuprofile in a folder. */
export function newestProfile(dir: string): string | undefined {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort();
    return files.length ? path.join(dir, files[files.length - 1]) : undefined;
  } catch {
    return undefined;
  }
}

export function renderProfile(summary: ProfileSummary, title: string): string {
  const out = [
    `### ${title}`,
    '',
    `${summary.busyMs} ms of CPU in ${summary.totalMs} ms of profile (GC ${summary.gcMs} ms); profile file ${summary.file}.`,
    '',
    '| package | self ms | share |',
    '|---|---:|---:|',
    ...summary.byPackage.slice(0, 15).map((e) => `| ${e.name} | ${e.selfMs} | ${e.share}% |`),
    '',
    '| function | self ms | share |',
    '|---|---:|---:|',
    ...summary.byFunction.map(
      (e) => `| ${e.name.replace(/\|/g, '\\|')} | ${e.selfMs} | ${e.share}% |`,
    ),
    '',
  ];
  return out.join('\n');
}
