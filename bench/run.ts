/**
 * The benchmark harness: `npm run bench -- --scales 1,10,100,1000 --duration 5`.
 *
 * For each scale: a database of its own (cloned from a migrated template), seeded and analysed;
 * the hot queries EXPLAINed; the built server started as child processes (production mode, plus
 * development-mode servers with all layers on, without graphql-shield and without the tenant
 * filter) next to a raw-SQL floor endpoint; each operation driven over HTTP by autocannon; the
 * server's /metrics scraped for SQL statements per request and /proc read for CPU and RSS. The
 * report goes to bench/results/<date>.md and .json. See bench/README.md.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import type { GraphQLSchema } from 'graphql';
import { openDatabase } from '../src/db/database';
import { RUNTIME_ROLE } from '../src/db/schema-helpers';
import {
  cloneDatabase,
  connect,
  createMigratedDatabase,
  databaseSize,
  dropDatabase,
} from './database';
import { checkHotQueries, describePlan, hotQueries } from './explain';
import { histogramByLabel, login, scrapeMetrics } from './http';
import { runLoad } from './load';
import {
  availabilityOperation,
  bookingOperation,
  bookingSlots,
  floorPage,
  probeVoicePath,
  voiceBookingSlots,
  voiceBookOperation,
  voiceInboundOperation,
  staticOperations,
  voiceOperation,
  webhookCallPrefix,
  webhookOperation,
  appointmentsPage,
  type BenchContext,
  type Operation,
  type Skipped,
} from './operations';
import { HELP, parseOptions, type BenchOptions } from './options';
import { machineCpu, procStats, RssSampler, startChild, type Child } from './processes';
import {
  evaluateTargets,
  renderMarkdown,
  summariseChecks,
  type OpResult,
  type Report,
  type ScaleResult,
  type ServerName,
} from './report';
import {
  ensurePeerInstalled,
  findPeerPageShape,
  introspectPeer,
  peerPage,
  PEER_DIR,
  type PeerPageShape,
} from './peer-target';
import { newestProfile, summariseProfile } from './profile';
import {
  compareRows,
  fetchOnce,
  rowsFromOurs,
  rowsFromPeer,
  type PageRow,
  type SameRowsResult,
} from './same-rows';
import { introspect } from './schema-probe';
import { seedBenchData, BENCH_PASSWORD } from './seed';

const started = Date.now();
function log(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
}

interface Server extends Child {
  kind: ServerName;
  token: string;
  metricsToken?: string;
}

const children = new Set<Child>();
const databases = new Set<string>();

async function cleanup(options: BenchOptions): Promise<void> {
  await Promise.allSettled([...children].map((c) => c.stop()));
  children.clear();
  if (options.keepDb) {
    if (databases.size) log(`kept databases: ${[...databases].join(', ')}`);
    return;
  }
  for (const name of databases) {
    await dropDatabase(options.databaseUrl, name).catch((err: unknown) =>
      log(`could not drop ${name}: ${String(err)}`),
    );
  }
  databases.clear();
}

interface RunState {
  options: BenchOptions;
  runId: string;
  tmp: string;
  retellKey: string;
  voiceToken: string;
  jwtSecret: string;
  metricsToken: string;
  credentialKeys: string;
}

/** The same database, logged in as `role` (no password: the benchmark server trusts local logins). */
function loginUrl(databaseUrl: string, role: string): string {
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = '';
  return url.toString();
}

function serverEnv(state: RunState, databaseUrl: string, kind: ServerName): Record<string, string> {
  const env: Record<string, string> = {
    NODE_ENV: kind === 'prod' ? 'production' : 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    DB_POOL_MAX: String(state.options.poolMax),
    JWT_SECRET: state.jwtSecret,
    METRICS_TOKEN: state.metricsToken,
    CREDENTIAL_ENCRYPTION_KEYS: state.credentialKeys,
    RETELL_API_KEYS: state.retellKey,
    // The ingest benchmark sends from one address; the default (60 a minute) would refuse it.
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000',
    // The load is one company's hourly allowance many times over; the points buckets (see
    // docs/api-limits.md) would answer 429 within seconds. The per-operation limits stay on.
    GRAPHQL_COMPANY_POINTS: '1000000000',
    GRAPHQL_TOKEN_POINTS: '1000000000',
    GRAPHQL_ANONYMOUS_POINTS: '1000000000',
    VOICE_AGENT_ALLOWED_IPS: '127.0.0.1,::1,::ffff:127.0.0.1',
    ACCESS_TOKEN_TTL_SECONDS: '7200',
    SEED_DEMO_DATA: 'false',
  };
  if (kind === 'prod') {
    env.DATABASE_RUNTIME_URL = loginUrl(databaseUrl, 'app_runtime');
    env.DATABASE_PLATFORM_URL = loginUrl(databaseUrl, 'app_platform_client');
  }
  if (kind === 'shieldOff') env.BENCH_DISABLE_SHIELD = 'true';
  if (kind === 'filterOff') env.BENCH_DISABLE_TENANT_FILTER = 'true';
  return env;
}

async function startServer(
  state: RunState,
  databaseUrl: string,
  kind: ServerName,
  adminEmail: string,
): Promise<Server> {
  const dist = path.resolve(__dirname, '..');
  const bare = kind === 'floor' || kind === 'peer';
  const child =
    kind === 'peer'
      ? await startChild({
          name: kind,
          script: path.join(PEER_DIR, 'server.js'),
          // The runtime role's own login, as the production-mode server's DATABASE_RUNTIME_URL.
          env: {
            NODE_ENV: 'production',
            DATABASE_URL: loginUrl(databaseUrl, RUNTIME_ROLE),
            DB_POOL_MAX: String(state.options.poolMax),
            RUNTIME_ROLE,
          },
          logFile: path.join(state.tmp, `${kind}.log`),
          readyPath: '/healthz',
        })
      : kind === 'floor'
        ? await startChild({
            name: kind,
            script: path.join(dist, 'bench', 'floor-server.js'),
            env: { DATABASE_URL: databaseUrl, DB_POOL_MAX: String(state.options.poolMax) },
            logFile: path.join(state.tmp, `${kind}.log`),
            readyPath: '/healthz',
          })
        : await startChild({
            name: kind,
            script: path.join(dist, 'src', 'main.js'),
            env: serverEnv(state, databaseUrl, kind),
            logFile: path.join(state.tmp, `${kind}.log`),
            readyPath: '/readyz',
            nodeArgs:
              kind === 'prod' && state.options.profile
                ? ['--cpu-prof', '--cpu-prof-dir', profileDir(state)]
                : [],
          });
  children.add(child);
  const token = bare ? '' : await login(child.url, adminEmail, BENCH_PASSWORD);
  return { ...child, kind, token, metricsToken: bare ? undefined : state.metricsToken };
}

const profileDir = (state: RunState) => path.join(state.tmp, 'profile');

async function stopServer(server: Server): Promise<number | undefined> {
  const hwm = procStats(server.pid)?.hwmMb;
  await server.stop();
  for (const c of children) if (c.pid === server.pid) children.delete(c);
  return hwm;
}

/** Statements per request since `before`: every route but the scrape itself. */
async function statementTotals(server: Server): Promise<{ sum: number; count: number } | null> {
  if (!server.metricsToken) return null;
  const text = await scrapeMetrics(server.url, server.metricsToken);
  const byRoute = histogramByLabel(text, 'app_db_statements_per_request', 'route');
  let sum = 0;
  let count = 0;
  for (const [route, t] of byRoute) {
    if (route === '/metrics') continue;
    sum += t.sum;
    count += t.count;
  }
  return { sum, count };
}

async function measure(
  state: RunState,
  server: Server,
  op: Operation,
  round = 0,
  after?: (result: OpResult) => Promise<Record<string, unknown>>,
): Promise<OpResult> {
  const { options } = state;
  const target = { url: server.url, token: server.token };
  if (options.warmupS > 0) {
    await runLoad(server.url, op.build(target, 'warmup'), {
      durationS: options.warmupS,
      connections: options.connections,
    });
  }
  const before = await statementTotals(server);
  const cpu0 = procStats(server.pid);
  const m0 = machineCpu();
  const sampler = new RssSampler([server.pid]);
  sampler.start();
  const load = await runLoad(server.url, op.build(target, 'measure'), {
    durationS: options.durationS,
    connections: options.connections,
  });
  sampler.stop();
  const m1 = machineCpu();
  const cpu1 = procStats(server.pid);
  const afterTotals = await statementTotals(server);
  const statements =
    before && afterTotals && afterTotals.count > before.count
      ? (afterTotals.sum - before.sum) / (afterTotals.count - before.count)
      : null;
  const result: OpResult = {
    ...load,
    op: op.name,
    title: op.title,
    server: server.kind,
    round,
    statementsPerRequest: statements === null ? null : Math.round(statements * 100) / 100,
    serverCpuMsPerRequest:
      cpu0 && cpu1 && load.requests
        ? Math.round(((cpu1.cpuMs - cpu0.cpuMs) / load.requests) * 1000) / 1000
        : null,
    serverRssPeakMb: Math.round(sampler.peakMb.get(server.pid) ?? 0) || null,
    machineBusyPct:
      Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 1000) / 10,
    loadAvg: Math.round(os.loadavg()[0] * 10) / 10,
  };
  if (after) result.extra = await after(result);
  log(
    `  ${server.kind.padEnd(9)} ${op.name.padEnd(22)} ${String(result.okRps).padStart(8)} req/s  p50 ${result.latencyMs.p50} p95 ${result.latencyMs.p95} p99 ${result.latencyMs.p99} ms  errors ${result.errors}  SQL/req ${result.statementsPerRequest ?? '–'}  CPU ${result.serverCpuMsPerRequest ?? '–'} ms/req`,
  );
  for (const sample of result.errorSamples) log(`      error: ${sample}`);
  return result;
}

function wanted(options: BenchOptions, name: string): boolean {
  return options.ops.length === 0 || options.ops.includes(name);
}

async function runScale(state: RunState, template: string, scale: number): Promise<ScaleResult> {
  const { options } = state;
  const dbName = `${state.runId}_x${String(scale).replace('.', '_')}`;
  databases.add(dbName);
  const url = await cloneDatabase(options.databaseUrl, template, dbName);
  const superuser: Knex = connect(url, 2);
  try {
    log(`scale ${scale}x: seeding`);
    const seed = await seedBenchData(superuser, { scale, companies: options.companies });
    const size = await databaseSize(superuser);
    log(
      `scale ${scale}x: seeded ${seed.totals.appointments} appointments over ${seed.companies} companies in ${seed.seconds.toFixed(1)} s (${size})`,
    );
    // The benchmark company's voice agent sends a bearer secret, so that layer is measured too.
    await superuser('voice_agent_settings').insert({
      company_id: seed.bench.id,
      secret_hash: createHash('sha256').update(state.voiceToken).digest('hex'),
    });
    const now = new Date();
    const ctx: BenchContext = {
      seed,
      runId: state.runId,
      retellKey: state.retellKey,
      voiceToken: state.voiceToken,
      now,
    };

    // EXPLAIN the hot queries as the runtime role, with row level security in the plan.
    const runtime = await openDatabase({ url, poolMax: 2 });
    let explain;
    try {
      const b = seed.bench;
      const checks = await checkHotQueries(
        runtime.knex,
        hotQueries({
          companyId: b.id,
          staffIds: b.staffIds,
          customerIds: b.customerIds.slice(0, 50),
          appointmentId: b.appointmentIds[0],
          namePrefix: b.namePrefixes[0] ?? 'ma',
          phone: b.customerPhones[0],
          now,
        }),
        b.id,
        { analyze: true },
      );
      explain = summariseChecks(checks, describePlan);
      for (const e of explain) {
        if (!e.ok || e.warnings.length)
          log(`  explain ${e.name}: ${[...e.problems, ...e.warnings].join('; ')}`);
      }
    } finally {
      await runtime.close();
    }

    log(`scale ${scale}x: starting servers`);
    const kinds: ServerName[] = options.baselines
      ? ['prod', 'devRef', 'floor', 'peer', 'shieldOff', 'filterOff']
      : ['prod', 'devRef', 'peer'];
    if (!options.peer) kinds.splice(kinds.indexOf('peer'), 1);
    const servers = new Map<ServerName, Server>();
    // Two at a time: starting five Node processes at once on two cores takes longer than this.
    for (let i = 0; i < kinds.length; i += 2) {
      const batch = await Promise.all(
        kinds.slice(i, i + 2).map((k) => startServer(state, url, k, seed.bench.adminEmail)),
      );
      for (const s of batch) servers.set(s.kind, s);
    }
    const prod = servers.get('prod')!;
    const devRef = servers.get('devRef')!;

    // What the server offers right now (others are adding scheduling and the voice agent).
    const detected: Record<string, string> = {};
    const skipped: Skipped[] = [];
    const schema: GraphQLSchema = await introspect(devRef.url, devRef.token);
    const ops: Operation[] = staticOperations(ctx);
    const availability = availabilityOperation(ctx, schema);
    if ('reason' in availability) skipped.push(availability);
    else {
      ops.push(availability);
      detected.availableSlots = availability.detail;
    }
    const booking = bookingOperation(ctx, schema, bookingSlots(ctx));
    if ('reason' in booking) skipped.push(booking);
    else {
      ops.push(booking);
      detected.bookAppointment = booking.detail;
    }
    const voice = await probeVoicePath(ctx, prod.url, options.voicePath);
    if (voice.path) {
      ops.push(voiceOperation(ctx, voice.path));
      ops.push(voiceBookOperation(ctx, voiceBookingSlots(ctx)));
      ops.push(voiceInboundOperation(ctx));
      detected.voiceCheckAvailability = `${voice.path} (probe answered ${voice.answer})`;
    } else {
      skipped.push({
        name: 'voiceCheckAvailability',
        reason: `no route: ${voice.tried.join(', ')} all answer 404 No such route`,
      });
    }
    ops.push(webhookOperation(ctx, scale));

    const results: OpResult[] = [];
    const hwm: Partial<Record<ServerName, number>> = {};

    // The peer's operations, from its generated schema.
    let peerShape: PeerPageShape | { missing: string } = { missing: 'not started' };
    const peer = servers.get('peer');
    if (peer) {
      peerShape = await introspectPeer(peer.url, seed.bench.id).then(findPeerPageShape, (err) => ({
        missing: `introspection failed: ${String(err)}`,
      }));
      if ('missing' in peerShape) {
        skipped.push({ name: 'peer', reason: peerShape.missing });
        hwm.peer = await stopServer(peer);
        servers.delete('peer');
      } else {
        detected.peer = `${peerShape.root}, ${peerShape.customer}, ${peerShape.staff}, ${peerShape.service}`;
      }
    }
    const sameRows = await checkSameRows(ctx, servers, peerShape);
    if (sameRows) {
      log(`scale ${scale}x: same rows ${sameRows.ok ? 'ok' : 'DIFFER'}: ${sameRows.detail}`);
    }

    // The appointments page on every target, the order alternating per round: floor, peer and
    // the servers at 50 rows; floor, peer and prod at 1 row.
    const comparedOnProd = new Set<string>();
    if (servers.has('floor') || servers.has('peer')) {
      log(`scale ${scale}x: appointments page against the floor, the peer and the baselines`);
      const order = (
        ['floor', 'peer', 'prod', 'devRef', 'shieldOff', 'filterOff'] as ServerName[]
      ).filter((k) => servers.has(k));
      const pageOp = (kind: ServerName, first: number): Operation | Skipped =>
        kind === 'floor'
          ? floorPage(ctx, first)
          : kind === 'peer'
            ? peerPage(ctx, peerShape, first)
            : appointmentsPage(first);
      for (let round = 0; round < options.rounds; round++) {
        for (const kind of round % 2 ? [...order].reverse() : order) {
          for (const first of [50, 1]) {
            const op = pageOp(kind, first);
            if (!wanted(options, op.name) || 'reason' in op) continue;
            if (first === 1 && !['floor', 'peer', 'prod'].includes(kind)) continue;
            results.push(await measure(state, servers.get(kind)!, op, round));
            if (kind === 'prod') comparedOnProd.add(op.name);
          }
        }
      }
    }
    for (const kind of ['floor', 'peer', 'devRef', 'shieldOff', 'filterOff'] as ServerName[]) {
      const server = servers.get(kind);
      if (server) hwm[kind] = await stopServer(server);
    }

    log(`scale ${scale}x: operations on the production-mode server`);
    for (const op of ops) {
      if (!wanted(options, op.name)) continue;
      if (comparedOnProd.has(op.name)) continue; // measured above
      const after =
        op.name === 'webhookRetell'
          ? async (r: OpResult) => {
              // Durable means in the inbox table: count what this phase stored.
              const prefix = webhookCallPrefix(ctx, scale, 'measure');
              const { rows } = await superuser.raw<{ rows: { n: number }[] }>(
                `select count(*)::int as n from webhook_events where provider = 'retell' and dedupe_key like ?`,
                [`call_started:${prefix}%`],
              );
              return { accepted: r.statuses['202'] ?? 0, stored: rows[0].n };
            }
          : undefined;
      results.push(await measure(state, prod, op, 0, after));
    }
    hwm.prod = await stopServer(prod);
    const profileFile = options.profile ? newestProfile(profileDir(state)) : undefined;
    const profile = profileFile ? summariseProfile(profileFile) : undefined;
    if (profile) {
      log(`scale ${scale}x: CPU profile ${profileFile}`);
      for (const e of profile.byPackage.slice(0, 8)) log(`  ${e.share}% ${e.name}`);
    }
    return {
      profile,
      scale,
      companies: seed.companies,
      totals: seed.totals,
      benchCompany: seed.bench.counts,
      seedSeconds: seed.seconds,
      databaseSize: size,
      explain,
      results,
      skipped,
      detected,
      sameRows,
      serverHwmMb: Object.fromEntries(
        Object.entries(hwm).map(([k, v]) => [k, v === undefined ? undefined : Math.round(v)]),
      ),
    };
  } finally {
    await superuser.destroy();
    await Promise.allSettled([...children].map((c) => c.stop()));
    children.clear();
    if (!options.keepDb) {
      await dropDatabase(options.databaseUrl, dbName);
      databases.delete(dbName);
    }
  }
}

/**
 * One appointments page from the floor, the production server and the peer (those running),
 * compared row by row. Undefined when fewer than two of them run.
 */
async function checkSameRows(
  ctx: BenchContext,
  servers: Map<ServerName, Server>,
  peerShape: PeerPageShape | { missing: string },
): Promise<SameRowsResult | undefined> {
  const company = ctx.seed.bench.id;
  const fetchers: Array<[ServerName, () => Promise<PageRow[]>]> = [];
  const floor = servers.get('floor');
  const prod = servers.get('prod');
  const peer = servers.get('peer');
  if (floor) {
    fetchers.push([
      'floor',
      async () =>
        rowsFromOurs(await fetchOnce(floor.url, floorPage(ctx).build(floor, 'measure')), company),
    ]);
  }
  if (prod) {
    fetchers.push([
      'prod',
      async () =>
        rowsFromOurs(
          await fetchOnce(prod.url, appointmentsPage(50).build(prod, 'measure')),
          company,
        ),
    ]);
  }
  if (peer && !('missing' in peerShape)) {
    const op = peerPage(ctx, peerShape, 50) as Operation;
    fetchers.push([
      'peer',
      async () => rowsFromPeer(await fetchOnce(peer.url, op.build(peer, 'measure')), peerShape),
    ]);
  }
  if (fetchers.length < 2) return undefined;
  const pages: Array<{ target: string; rows: PageRow[] }> = [];
  for (const [target, fetchRows] of fetchers) {
    try {
      pages.push({ target, rows: await fetchRows() });
    } catch (err) {
      return {
        ok: false,
        targets: fetchers.map(([t]) => t),
        rows: 0,
        detail: `${target} answered no comparable page: ${(err as Error).message}`,
      };
    }
  }
  return compareRows(pages);
}

function machineInfo(pgVersion: string): Record<string, string | number> {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return '';
    }
  };
  const dirty = git(['status', '--porcelain']).split('\n').filter(Boolean).length;
  return {
    cpus: `${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GB`,
    node: process.version,
    postgres: pgVersion,
    commit: `${git(['rev-parse', '--short', 'HEAD']) || '?'}${dirty ? ` + ${dirty} uncommitted files` : ''}`,
  };
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseOptions(
      process.argv.slice(2),
      process.env,
      path.resolve(__dirname, '..', '..', 'bench', 'results'),
    );
  } catch (err) {
    console.error((err as Error).message);
    process.exit((err as Error).message === HELP ? 0 : 2);
  }
  const runId = `bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const state: RunState = {
    options,
    runId,
    tmp: mkdtempSync(path.join(os.tmpdir(), 'bench-')),
    retellKey: `key_${randomBytes(16).toString('hex')}`,
    voiceToken: randomBytes(24).toString('hex'),
    jwtSecret: randomBytes(32).toString('hex'),
    metricsToken: randomBytes(24).toString('hex'),
    credentialKeys: `bench:${randomBytes(32).toString('base64')}`,
  };
  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping servers and dropping databases`);
    void cleanup(options).finally(() => process.exit(130));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  log(`run ${runId}; logs in ${state.tmp}`);
  const startedAt = new Date();
  const template = `${runId}_tpl`;
  databases.add(template);
  const scales: ScaleResult[] = [];
  let pgVersion = '?';
  try {
    const admin = connect(options.databaseUrl);
    try {
      const { rows } = await admin.raw<{ rows: { v: string }[] }>(
        `select current_setting('server_version') as v`,
      );
      pgVersion = rows[0].v;
    } finally {
      await admin.destroy();
    }
    if (options.peer) ensurePeerInstalled(log);
    log('migrating the template database');
    await createMigratedDatabase(options.databaseUrl, template);
    for (const scale of options.scales) scales.push(await runScale(state, template, scale));
  } finally {
    await cleanup(options);
  }

  const finishedAt = new Date();
  const date = startedAt.toISOString().slice(0, 10);
  const { outDir: _outDir, ...shownOptions } = options;
  const report: Report = {
    date,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    options: { ...shownOptions, databaseUrl: redact(options.databaseUrl) },
    machine: machineInfo(pgVersion),
    scales,
    targets: evaluateTargets(scales),
    notes: [
      'Load generator (autocannon), servers and Postgres share the machine: a request/s figure includes their competition for the CPUs. "machine busy" is the whole machine during the measurement; anything above what the benchmark explains is other work.',
      'Baselines (devRef, shieldOff, filterOff) run in development mode because the switches are refused in production; their ratios compare development-mode servers with each other.',
      'peer: PostGraphile 4.14.1 over the same database (bench/peer), one Node process, logged in as the runtime role with the same pool size; per request a transaction with set_config of role and app.company_id (row level security as in the tenant binding). The company comes from a header, so it does no sign-in or token check, unlike the production server. Its statements per request are not counted (it has no metrics endpoint).',
    ],
  };
  mkdirSync(options.outDir, { recursive: true });
  const base = path.join(options.outDir, date);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${renderMarkdown(report)}\n`);
  log(`report: ${base}.md and ${base}.json`);
  for (const t of report.targets) log(`  ${t.status.padEnd(12)} ${t.title}: ${t.measured}`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
