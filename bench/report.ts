import type { QueryCheck } from './explain';
import { renderProfile, type ProfileSummary } from './profile';
import type { LoadResult } from './load';
import type { Skipped } from './operations';
import type { BenchOptions } from './options';
import type { SameRowsResult } from './same-rows';

/** The results of a run, the targets judged against them, and the Markdown report. */

export type ServerName = 'prod' | 'devRef' | 'shieldOff' | 'filterOff' | 'floor' | 'peer';

export const SERVER_TITLES: Record<ServerName, string> = {
  prod: 'server (production mode)',
  devRef: 'server (development mode, all layers on)',
  shieldOff: 'server, BENCH_DISABLE_SHIELD (development mode)',
  filterOff: 'server, BENCH_DISABLE_TENANT_FILTER (development mode)',
  floor: 'raw SQL floor (node:http + pg)',
  peer: 'PostGraphile 4.14.1 (library mode, node:http, row level security through pgSettings)',
};

export interface OpResult extends LoadResult {
  op: string;
  title: string;
  server: ServerName;
  round: number;
  statementsPerRequest: number | null;
  serverCpuMsPerRequest: number | null;
  serverRssPeakMb: number | null;
  machineBusyPct: number;
  /** 1-minute load average at the end of the run (2 cores: above ~3 means other work competes). */
  loadAvg: number;
  extra?: Record<string, unknown>;
}

export interface ExplainSummary {
  name: string;
  description: string;
  ok: boolean;
  problems: string[];
  warnings: string[];
  plan: string;
  forcedPlan: string;
  indexes: string[];
  executionMs?: number;
}

export interface ScaleResult {
  scale: number;
  companies: number;
  totals: Record<string, number>;
  benchCompany: { appointments: number; customers: number; calls: number; staff: number };
  seedSeconds: number;
  databaseSize: string;
  explain: ExplainSummary[];
  results: OpResult[];
  skipped: Skipped[];
  detected: Record<string, string>;
  /** Peak RSS over each server process's life (VmHWM), MB. */
  serverHwmMb: Partial<Record<ServerName, number>>;
  /** Where the production-mode server's CPU went (with --profile). */
  profile?: ProfileSummary;
  /** Whether the floor, the production server and the peer answered the same page. */
  sameRows?: SameRowsResult;
}

export interface TargetResult {
  id: string;
  title: string;
  status: 'met' | 'missed' | 'not measured';
  measured: string;
}

export interface Report {
  date: string;
  startedAt: string;
  finishedAt: string;
  options: Omit<BenchOptions, 'outDir'>;
  machine: Record<string, string | number>;
  scales: ScaleResult[];
  targets: TargetResult[];
  notes: string[];
}

export function summariseChecks(
  checks: QueryCheck[],
  describe: (p: QueryCheck['natural']) => string,
): ExplainSummary[] {
  return checks.map((c) => ({
    name: c.name,
    description: c.description,
    ok: c.ok,
    problems: c.problems,
    warnings: c.warnings,
    plan: describe(c.natural),
    forcedPlan: describe(c.forced),
    indexes: c.natural.indexes,
    executionMs: c.natural.executionMs,
  }));
}

/** Averages the rounds of one operation on one server into one row. */
export function mergeRounds(rows: OpResult[]): OpResult {
  if (rows.length === 1) return rows[0];
  const avg = (f: (r: OpResult) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
  const avgOrNull = (f: (r: OpResult) => number | null) =>
    rows.every((r) => f(r) !== null) ? avg((r) => f(r)!) : null;
  const r1 = (n: number) => Math.round(n * 10) / 10;
  const r2 = (n: number) => Math.round(n * 100) / 100;
  return {
    ...rows[0],
    round: -1,
    requests: rows.reduce((a, r) => a + r.requests, 0),
    durationS: rows.reduce((a, r) => a + r.durationS, 0),
    rps: r1(avg((r) => r.rps)),
    okRps: r1(avg((r) => r.okRps)),
    latencyMs: {
      mean: r2(avg((r) => r.latencyMs.mean)),
      p50: r2(avg((r) => r.latencyMs.p50)),
      p95: r2(avg((r) => r.latencyMs.p95)),
      p99: r2(avg((r) => r.latencyMs.p99)),
      max: Math.max(...rows.map((r) => r.latencyMs.max)),
    },
    errors: rows.reduce((a, r) => a + r.errors, 0),
    errorSamples: [...new Set(rows.flatMap((r) => r.errorSamples))].slice(0, 5),
    statementsPerRequest: avgOrNull((r) => r.statementsPerRequest),
    serverCpuMsPerRequest: avgOrNull((r) => r.serverCpuMsPerRequest),
    serverRssPeakMb: Math.max(...rows.map((r) => r.serverRssPeakMb ?? 0)) || null,
    bytesPerResponse: Math.round(avg((r) => r.bytesPerResponse)),
    machineBusyPct: r1(avg((r) => r.machineBusyPct)),
    loadAvg: r1(avg((r) => r.loadAvg)),
  };
}

/** One row per (server, operation), rounds merged. */
export function mergedResults(scale: ScaleResult): OpResult[] {
  const groups = new Map<string, OpResult[]>();
  for (const r of scale.results) {
    const key = `${r.server}:${r.op}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map(mergeRounds);
}

function find(scale: ScaleResult, server: ServerName, op: string): OpResult | undefined {
  const rows = mergedResults(scale);
  const hit = rows.find((r) => r.server === server && r.op === op);
  // Reports before the floor served both page sizes named its 50-row page `floor`.
  if (!hit && server === 'floor' && op === 'appointmentsPage') {
    return rows.find((r) => r.server === 'floor' && r.op === 'floor');
  }
  return hit;
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);

export interface Ratios {
  pageOverFloor?: number;
  pageOverPeer?: number;
  page1OverFloor?: number;
  page1OverPeer?: number;
  shieldCost?: number;
  tenantCost?: number;
  prodOverDevRef?: number;
}

export function ratios(scale: ScaleResult): Ratios {
  const over = (a?: OpResult, b?: OpResult) => (a && b ? a.okRps / b.okRps : undefined);
  const page = (server: ServerName, op = 'appointmentsPage') => find(scale, server, op);
  const dev = page('devRef');
  const shieldOff = page('shieldOff');
  const filterOff = page('filterOff');
  return {
    pageOverFloor: over(page('prod'), page('floor')),
    pageOverPeer: over(page('prod'), page('peer')),
    page1OverFloor: over(page('prod', 'appointmentsPage1'), page('floor', 'appointmentsPage1')),
    page1OverPeer: over(page('prod', 'appointmentsPage1'), page('peer', 'appointmentsPage1')),
    shieldCost: dev && shieldOff ? 1 - dev.okRps / shieldOff.okRps : undefined,
    tenantCost: dev && filterOff ? 1 - dev.okRps / filterOff.okRps : undefined,
    prodOverDevRef: over(page('prod'), dev),
  };
}

function judge(
  id: string,
  title: string,
  perScale: Array<{ scale: number; ok: boolean; text: string }>,
): TargetResult {
  if (perScale.length === 0) return { id, title, status: 'not measured', measured: '–' };
  return {
    id,
    title,
    status: perScale.every((p) => p.ok) ? 'met' : 'missed',
    measured: perScale.map((p) => `${p.scale}x: ${p.text}${p.ok ? '' : ' ✗'}`).join('; '),
  };
}

/** A throughput ratio means nothing when the targets answered different rows. */
const rowsDiffer = (s: ScaleResult) => s.sameRows !== undefined && !s.sameRows.ok;

export function evaluateTargets(scales: ScaleResult[]): TargetResult[] {
  const targets: TargetResult[] = [];
  const each = <T>(f: (s: ScaleResult) => T | undefined) =>
    scales
      .map((s) => ({ s, v: f(s) }))
      .filter((x): x is { s: ScaleResult; v: T } => x.v !== undefined);

  targets.push(
    judge(
      'same-rows',
      'Targets return the same rows (floor, production server, PostGraphile: ids, order, relations, start, end, status)',
      each((s) =>
        s.sameRows === undefined
          ? undefined
          : {
              scale: s.scale,
              ok: s.sameRows.ok,
              text: `${s.sameRows.targets.join(' = ')}: ${s.sameRows.ok ? '' : 'ROWS DIFFER: '}${s.sameRows.detail}`,
            },
      ).map((x) => x.v),
    ),
  );

  const throughput = (
    id: string,
    title: string,
    op: string,
    other: ServerName,
    min: number,
    also?: ServerName,
  ) =>
    judge(
      id,
      title,
      each((s) => {
        const prod = find(s, 'prod', op);
        const base = find(s, other, op);
        if (!prod || !base) return undefined;
        const r = prod.okRps / base.okRps;
        const extra = also ? find(s, also, op) : undefined;
        const beside = extra ? `; / ${also} ${(prod.okRps / extra.okRps).toFixed(2)}` : '';
        return {
          scale: s.scale,
          ok: r >= min && !rowsDiffer(s),
          text: `${r.toFixed(2)} (${fmt(prod.okRps, 0)} / ${fmt(base.okRps, 0)} req/s${beside})${rowsDiffer(s) ? ', rows differ' : ''}`,
        };
      }).map((x) => x.v),
    );
  targets.push(
    throughput(
      'page-vs-floor',
      'Appointments page (50) throughput ≥ 0.6 × the raw SQL floor',
      'appointmentsPage',
      'floor',
      0.6,
    ),
    throughput(
      'page-vs-peer',
      'Appointments page (50) throughput ≥ 1.1 × PostGraphile 4 (same run)',
      'appointmentsPage',
      'peer',
      1.1,
    ),
    throughput(
      'page1-vs-floor',
      '1-row appointments page throughput ≥ 0.8 × the raw SQL floor (ratio to PostGraphile beside it)',
      'appointmentsPage1',
      'floor',
      0.8,
      'peer',
    ),
  );

  for (const [id, op, limit, what] of [
    ['cpu-page', 'appointmentsPage', 5, '50-row page'],
    ['cpu-page1', 'appointmentsPage1', 1.5, '1-row page'],
  ] as const) {
    targets.push(
      judge(
        id,
        `Server CPU per ${what} ≤ ${limit} ms (production server, /proc; PostGraphile and floor beside it)`,
        each((s) => {
          const cpu = find(s, 'prod', op)?.serverCpuMsPerRequest;
          if (cpu == null) return undefined;
          const peer = find(s, 'peer', op)?.serverCpuMsPerRequest;
          const floor = find(s, 'floor', op)?.serverCpuMsPerRequest;
          return {
            scale: s.scale,
            ok: cpu <= limit,
            text: `${fmt(cpu, 2)} ms (peer ${fmt(peer, 2)}, floor ${fmt(floor, 2)})`,
          };
        }).map((x) => x.v),
      ),
    );
  }

  targets.push(
    judge(
      'tenant-cost',
      'Tenant layer (application filter) costs ≤ 10% of throughput',
      each((s) => {
        const r = ratios(s).tenantCost;
        return r === undefined ? undefined : { scale: s.scale, ok: r <= 0.1, text: pct(r) };
      }).map((x) => x.v),
    ),
  );
  targets.push(
    judge(
      'shield-cost',
      'graphql-shield costs ≤ 10% of throughput',
      each((s) => {
        const r = ratios(s).shieldCost;
        return r === undefined ? undefined : { scale: s.scale, ok: r <= 0.1, text: pct(r) };
      }).map((x) => x.v),
    ),
  );
  targets.push(
    judge(
      'statements-flat',
      'SQL statements per request do not grow with page size (first: 1 vs first: 50)',
      each((s) => {
        const one = find(s, 'prod', 'appointmentsPage1')?.statementsPerRequest;
        const fifty = find(s, 'prod', 'appointmentsPage')?.statementsPerRequest;
        if (one == null || fifty == null) return undefined;
        return {
          scale: s.scale,
          ok: fifty <= one + 0.05,
          text: `${fmt(one, 2)} vs ${fmt(fifty, 2)}`,
        };
      }).map((x) => x.v),
    ),
  );

  const low = scales.find((s) => s.scale === 1);
  const high = scales.find((s) => s.scale === 1000);
  const growth = (id: string, title: string, pick: (op: string) => boolean): TargetResult => {
    if (!low || !high) {
      return {
        id,
        title,
        status: 'not measured',
        measured: 'needs scales 1 and 1000 in the same run',
      };
    }
    const rows: Array<{ scale: number; ok: boolean; text: string }> = [];
    for (const r of mergedResults(high).filter((r) => r.server === 'prod' && pick(r.op))) {
      const base = find(low, 'prod', r.op);
      if (!base) continue;
      const ratio = r.latencyMs.p95 / base.latencyMs.p95;
      rows.push({
        scale: 1000,
        ok: ratio <= 2,
        text: `${r.op} ${fmt(base.latencyMs.p95)} → ${fmt(r.latencyMs.p95)} ms (${ratio.toFixed(2)}×)`,
      });
    }
    return judge(id, title, rows);
  };
  targets.push(
    growth(
      'slots-p95-growth',
      'availableSlots p95 at 1000x within 2× of p95 at 1x',
      (op) => op === 'availableSlots',
    ),
    growth(
      'p95-growth',
      'p95 at 1000x within 2× of p95 at 1x, every other operation',
      (op) => op !== 'availableSlots',
    ),
  );

  const dash = high ? find(high, 'prod', 'dashboard') : undefined;
  targets.push(
    dash
      ? {
          id: 'dashboard-p95',
          title: 'dashboard p95 < 100 ms at 1000x',
          status: dash.latencyMs.p95 < 100 ? 'met' : 'missed',
          measured: `${fmt(dash.latencyMs.p95)} ms (p99 ${fmt(dash.latencyMs.p99)} ms)`,
        }
      : {
          id: 'dashboard-p95',
          title: 'dashboard p95 < 100 ms at 1000x',
          status: 'not measured',
          measured: '–',
        },
  );

  for (const [id, op, limit] of [
    ['voice-check-p95', 'voiceCheckAvailability', 300],
    ['voice-book-p95', 'voiceBookAppointment', 500],
    ['voice-inbound-p95', 'voiceInbound', 100],
  ] as const) {
    targets.push(
      judge(
        id,
        `voice ${op} p95 < ${limit} ms (the largest company)`,
        each((s) => {
          const r = find(s, 'prod', op);
          return r
            ? {
                scale: s.scale,
                ok: r.latencyMs.p95 < limit && r.errors === 0,
                text: `${fmt(r.latencyMs.p95)} ms (p99 ${fmt(r.latencyMs.p99)} ms)${r.errors ? `, ${r.errors} errors` : ''}`,
              }
            : undefined;
        }).map((x) => x.v),
      ),
    );
  }

  targets.push(
    judge(
      'rss',
      'Peak RSS < 250 MB at 1000x (production server, VmHWM over its life; PostGraphile beside it)',
      each((s) =>
        s.scale !== 1000 || s.serverHwmMb.prod === undefined
          ? undefined
          : {
              scale: s.scale,
              ok: s.serverHwmMb.prod < 250,
              text: `${fmt(s.serverHwmMb.prod, 0)} MB (peer ${fmt(s.serverHwmMb.peer, 0)} MB)`,
            },
      ).map((x) => x.v),
    ),
  );

  targets.push(
    judge(
      'webhook-ingest',
      'Signed webhook ingest ≥ 1,000 events/s accepted durably',
      each((s) => {
        const w = find(s, 'prod', 'webhookRetell');
        if (!w) return undefined;
        const stored = w.extra?.stored as number | undefined;
        const accepted = w.extra?.accepted as number | undefined;
        const durable = stored !== undefined && accepted !== undefined && stored >= accepted;
        return {
          scale: s.scale,
          ok: w.okRps >= 1000 && durable && w.errors === 0,
          text: `${fmt(w.okRps, 0)} accepted/s, ${accepted ?? '?'} accepted, ${stored ?? '?'} stored${w.errors ? `, ${w.errors} errors` : ''}`,
        };
      }).map((x) => x.v),
    ),
  );

  targets.push(
    judge(
      'explain',
      'Hot queries use index scans; no Seq Scan on a tenant table over 2,000 rows',
      scales.map((s) => {
        const bad = s.explain.filter((e) => !e.ok);
        return {
          scale: s.scale,
          ok: bad.length === 0,
          text: bad.length
            ? bad.map((b) => `${b.name}: ${b.problems.join(', ')}`).join('; ')
            : `${s.explain.length} queries ok`,
        };
      }),
    ),
  );

  targets.push(
    judge(
      'errors',
      'No errors in any measured response',
      scales.map((s) => {
        const bad = mergedResults(s).filter((r) => r.errors > 0);
        return {
          scale: s.scale,
          ok: bad.length === 0,
          text: bad.length ? bad.map((r) => `${r.server}/${r.op}: ${r.errors}`).join(', ') : 'none',
        };
      }),
    ),
  );
  return targets;
}

const OP_ORDER = [
  'floor',
  'appointmentsPage',
  'appointmentsPage1',
  'customerSearch',
  'customerPhone',
  'dashboard',
  'node',
  'availableSlots',
  'bookAppointment',
  'voiceCheckAvailability',
  'voiceBookAppointment',
  'voiceInbound',
  'webhookRetell',
];
const SERVER_ORDER: ServerName[] = ['floor', 'peer', 'prod', 'devRef', 'shieldOff', 'filterOff'];

function sortRows(rows: OpResult[]): OpResult[] {
  const opIdx = (o: string) => (OP_ORDER.indexOf(o) + 100) % 100;
  return [...rows].sort(
    (a, b) =>
      opIdx(a.op) - opIdx(b.op) || SERVER_ORDER.indexOf(a.server) - SERVER_ORDER.indexOf(b.server),
  );
}

export function renderMarkdown(report: Report): string {
  const out: string[] = [];
  const o = report.options;
  out.push(`# Benchmark ${report.date}`, '');
  out.push(
    `Run ${report.startedAt} → ${report.finishedAt}. Scales ${o.scales.join(', ')}; ${o.durationS} s measured per operation after ${o.warmupS} s of warm-up; ${o.connections} connections; pool ${o.poolMax}; ${o.rounds} round(s) of the floor comparison.`,
    '',
    `Machine: ${Object.entries(report.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
  );
  for (const n of report.notes) out.push(`> ${n}`, '');

  out.push('## Targets', '', '| target | status | measured |', '|---|---|---|');
  for (const t of report.targets) {
    const icon =
      t.status === 'met' ? '✅ met' : t.status === 'missed' ? '❌ missed' : '➖ not measured';
    out.push(`| ${t.title} | ${icon} | ${t.measured.replace(/\|/g, '\\|')} |`);
  }
  out.push('');

  const low = report.scales.find((s) => s.scale === Math.min(...report.scales.map((x) => x.scale)));
  const high = report.scales.find(
    (s) => s.scale === Math.max(...report.scales.map((x) => x.scale)),
  );
  if (low && high && low !== high) {
    out.push(`## p95 by scale (production server, ms)`, '');
    const ops = sortRows(mergedResults(high).filter((r) => r.server === 'prod')).map((r) => r.op);
    out.push(
      `| operation | ${report.scales.map((s) => `${s.scale}x`).join(' | ')} | ${high.scale}x / ${low.scale}x |`,
    );
    out.push(`|---|${report.scales.map(() => '---:').join('|')}|---:|`);
    for (const op of ops) {
      const cells = report.scales.map((s) => fmt(find(s, 'prod', op)?.latencyMs.p95));
      const a = find(low, 'prod', op)?.latencyMs.p95;
      const b = find(high, 'prod', op)?.latencyMs.p95;
      out.push(`| ${op} | ${cells.join(' | ')} | ${a && b ? `${(b / a).toFixed(2)}×` : '–'} |`);
    }
    out.push('');
  }

  for (const s of report.scales) {
    out.push(`## ${s.scale}x`, '');
    out.push(
      `${s.totals.appointments} appointments, ${s.totals.customers} customers, ${s.totals.calls} calls over ${s.companies} companies; the measured company (the largest) has ${s.benchCompany.appointments} appointments, ${s.benchCompany.customers} customers, ${s.benchCompany.calls} calls, ${s.benchCompany.staff} staff. Seeded in ${s.seedSeconds.toFixed(1)} s; database ${s.databaseSize}.`,
      '',
    );
    out.push(
      '| operation | server | req/s | p50 ms | p95 ms | p99 ms | errors | SQL/req | server CPU ms/req | response bytes | server RSS MB | machine busy | load avg |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of sortRows(mergedResults(s))) {
      out.push(
        `| ${r.op} | ${r.server} | ${fmt(r.okRps, 0)} | ${fmt(r.latencyMs.p50, 2)} | ${fmt(r.latencyMs.p95, 2)} | ${fmt(r.latencyMs.p99, 2)} | ${r.errors} | ${fmt(r.statementsPerRequest, 2)} | ${fmt(r.serverCpuMsPerRequest, 2)} | ${r.bytesPerResponse} | ${fmt(r.serverRssPeakMb, 0)} | ${fmt(r.machineBusyPct, 0)}% | ${fmt(r.loadAvg, 1)} |`,
      );
    }
    out.push('');
    const q = ratios(s);
    const parts: string[] = [];
    if (q.pageOverFloor !== undefined)
      parts.push(`appointments page / floor = **${q.pageOverFloor.toFixed(2)}**`);
    if (q.pageOverPeer !== undefined)
      parts.push(`appointments page / PostGraphile = **${q.pageOverPeer.toFixed(2)}**`);
    if (q.page1OverFloor !== undefined)
      parts.push(`1-row page / floor = **${q.page1OverFloor.toFixed(2)}**`);
    if (q.page1OverPeer !== undefined)
      parts.push(`1-row page / PostGraphile = **${q.page1OverPeer.toFixed(2)}**`);
    if (q.shieldCost !== undefined)
      parts.push(`shield cost = **${pct(q.shieldCost)}** (1 − shield-on / shield-off)`);
    if (q.tenantCost !== undefined)
      parts.push(`tenant filter cost = **${pct(q.tenantCost)}** (1 − filter-on / filter-off)`);
    if (q.prodOverDevRef !== undefined)
      parts.push(`production / development mode = ${q.prodOverDevRef.toFixed(2)}`);
    if (parts.length) out.push(`Ratios: ${parts.join('; ')}.`, '');
    if (s.sameRows) {
      out.push(
        `Same rows (${s.sameRows.targets.join(', ')}): ${s.sameRows.ok ? '✅' : '❌ **ROWS DIFFER**:'} ${s.sameRows.detail}.`,
        '',
      );
    }
    out.push(
      `Peak RSS (VmHWM): ${Object.entries(s.serverHwmMb)
        .map(([k, v]) => `${k} ${fmt(v, 0)} MB`)
        .join(', ')}.`,
      '',
    );
    for (const [k, v] of Object.entries(s.detected)) out.push(`- detected ${k}: ${v}`);
    for (const k of s.skipped) out.push(`- **skipped ${k.name}**: ${k.reason}`);
    const extras = mergedResults(s).filter((r) => r.extra);
    for (const r of extras) out.push(`- ${r.op} on ${r.server}: ${JSON.stringify(r.extra)}`);
    const errs = mergedResults(s).filter((r) => r.errorSamples.length);
    for (const r of errs)
      out.push(`- errors ${r.server}/${r.op}: ${r.errorSamples.join(' · ').replace(/\|/g, '\\|')}`);
    out.push('');
    out.push('EXPLAIN (as app_runtime, in a tenant transaction, natural plan):', '');
    out.push('| query | verdict | exec ms | plan |', '|---|---|---:|---|');
    for (const e of s.explain) {
      const verdict = e.ok
        ? e.warnings.length
          ? `ok; ⚠ ${e.warnings.join('; ')}`
          : 'ok'
        : `❌ ${e.problems.join('; ')}`;
      out.push(`| ${e.name} | ${verdict} | ${fmt(e.executionMs, 2)} | ${e.plan} |`);
    }
    out.push('');
    if (s.profile)
      out.push(
        renderProfile(s.profile, `CPU profile of the production-mode server at ${s.scale}x`),
      );
  }
  return out.join('\n');
}
