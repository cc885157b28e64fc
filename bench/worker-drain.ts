import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type { Knex } from 'knex';
import pino from 'pino';
import { testConfig } from '../src/config';
import { openDatabase } from '../src/db/database';
import { createMetrics } from '../src/observability/metrics';
import { WebhookWorker, type WebhookWorkerOptions } from '../src/webhooks/worker';
import { connect, createMigratedDatabase, DEFAULT_DATABASE_URL, dropDatabase } from './database';
import { seedBenchData } from './seed';

/**
 * Worker throughput: stores a backlog of signed-and-verified Retell call events (as ingest would),
 * then lets one worker drain it and reports the drain time, events/s, the worker process's CPU ms
 * per event and the load average before and after. Every event must end `processed` after exactly
 * one attempt, every call must exist once and end `ended` with both events seen.
 *
 *   npm run build && node dist/bench/worker-drain.js [--events 10000] [--companies 10]
 *     [--batch N] [--concurrency N] [--group N] [--pool N] [--keep-db] [--profile]
 */

interface DrainOptions {
  events: number;
  companies: number;
  pool: number;
  keepDb: boolean;
  /** Time per statement kind, measured from the worker's side (send to answer). */
  profile: boolean;
  worker: Partial<WebhookWorkerOptions>;
}

function parse(argv: string[]): DrainOptions {
  const opts: DrainOptions = {
    events: 10_000,
    companies: 10,
    pool: 10,
    keepDb: false,
    profile: false,
    worker: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const num = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg} needs a positive integer`);
      return n;
    };
    if (arg === '--events') opts.events = num();
    else if (arg === '--companies') opts.companies = num();
    else if (arg === '--pool') opts.pool = num();
    else if (arg === '--batch') opts.worker.batchSize = num();
    else if (arg === '--concurrency') opts.worker.concurrency = num();
    else if (arg === '--group') opts.worker.groupSize = num();
    else if (arg === '--keep-db') opts.keepDb = true;
    else if (arg === '--profile') opts.profile = true;
    else if (arg === '--help') {
      console.log(
        'node dist/bench/worker-drain.js [--events N] [--companies N] [--batch N] [--concurrency N] [--group N] [--pool N] [--keep-db] [--profile]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  return opts;
}

function loginUrl(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

/** Stores `total` Retell events (half call_started, half call_ended of the same calls). */
async function storeBacklog(url: string, total: number): Promise<void> {
  const owner = connect(url, 2);
  try {
    const { rows: agents } = await owner.raw<{
      rows: { agent_id: string; number_e164: string }[];
    }>(
      `select a.agent_id, p.number_e164 from retell_agents a
         join phone_numbers p on p.company_id = a.company_id and p.retell_agent_id = a.id`,
    );
    if (agents.length === 0) throw new Error('the seed made no Retell agents');
    const run = randomUUID().slice(0, 8);
    const chunk = 2000;
    for (let start = 0; start < total; start += chunk) {
      const types: string[] = [];
      const keys: string[] = [];
      const raws: string[] = [];
      for (let i = start; i < Math.min(total, start + chunk); i++) {
        const call = Math.floor(i / 2);
        const agent = agents[call % agents.length];
        const event = i % 2 === 0 ? 'call_started' : 'call_ended';
        const now = Date.now();
        const body = JSON.stringify({
          event,
          call: {
            call_id: `drain-${run}-${call}`,
            agent_id: agent.agent_id,
            call_type: 'phone_call',
            direction: 'inbound',
            call_status: event === 'call_started' ? 'ongoing' : 'ended',
            from_number: `+1555${String(call % 10_000_000).padStart(7, '0')}`,
            to_number: agent.number_e164,
            start_timestamp: now - 60_000,
            ...(event === 'call_ended' ? { end_timestamp: now, duration_ms: 60_000 } : {}),
          },
        });
        types.push(event);
        keys.push(`drain-${run}-${call}:${event}`);
        raws.push(body);
      }
      await owner.raw(
        `insert into webhook_events (provider, event_type, dedupe_key, payload_raw, payload)
         select 'retell', t, k, r, r::jsonb from unnest(?::text[], ?::text[], ?::text[]) as u(t, k, r)`,
        [types, keys, raws],
      );
    }
    await owner.raw('analyze webhook_events');
  } finally {
    await owner.destroy();
  }
}

/**
 * Counts the statements a knex handle sends and the wall time each kind takes until its answer
 * (the kind: the statement's first words). Returns a function that reports them, slowest first.
 */
function profileStatements(knex: Knex): () => Array<{ sql: string; n: number; totalMs: number }> {
  const started = new Map<string, bigint>();
  const kinds = new Map<string, { n: number; ns: bigint }>();
  const kindOf = (sql: string) =>
    sql
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/\$\d+|\?/g, '?')
      .slice(0, 70);
  knex.on('query', (q: { __knexQueryUid: string }) => {
    started.set(q.__knexQueryUid, process.hrtime.bigint());
  });
  const done = (q: { __knexQueryUid: string; sql: string }) => {
    const t0 = started.get(q.__knexQueryUid);
    if (t0 === undefined) return;
    started.delete(q.__knexQueryUid);
    const kind = kinds.get(kindOf(q.sql)) ?? { n: 0, ns: 0n };
    kind.n++;
    kind.ns += process.hrtime.bigint() - t0;
    kinds.set(kindOf(q.sql), kind);
  };
  knex.on('query-response', (_r: unknown, q: { __knexQueryUid: string; sql: string }) => done(q));
  knex.on('query-error', (_e: unknown, q: { __knexQueryUid: string; sql: string }) => done(q));
  return () =>
    [...kinds.entries()]
      .map(([sql, k]) => ({ sql, n: k.n, totalMs: Math.round(Number(k.ns) / 1e6) }))
      .sort((x, y) => y.totalMs - x.totalMs);
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const base = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const name = `bench_drain_${process.pid}`;
  const url = await createMigratedDatabase(base, name);
  try {
    const owner = connect(url, 2);
    try {
      await seedBenchData(owner, {
        scale: 1,
        companies: opts.companies,
        passwordHash: 'not-a-hash',
      });
    } finally {
      await owner.destroy();
    }
    await storeBacklog(url, opts.events);

    const db = await openDatabase({
      url,
      runtimeUrl: loginUrl(url, 'app_runtime'),
      platformUrl: loginUrl(url, 'app_platform_client'),
      poolMax: opts.pool,
    });
    const deps = {
      config: testConfig({ seedDemoData: false }),
      db,
      logger: pino({ level: 'warn' }),
      metrics: createMetrics(),
    };
    const worker = new WebhookWorker(deps, { workerId: 'bench-drain', ...opts.worker });
    const profile = opts.profile ? profileStatements(db.platform) : undefined;
    const loadBefore = loadavg().map((l) => Number(l.toFixed(2)));
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    const drained = await worker.drain(1_000_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const loadAfter = loadavg().map((l) => Number(l.toFixed(2)));
    await db.close();

    const check = connect(url, 1);
    try {
      const { rows } = await check.raw<{ rows: { status: string; n: number }[] }>(
        `select status, count(*)::int as n from webhook_events group by status order by status`,
      );
      const { rows: calls } = await check.raw<{
        rows: { calls: number; dupes: number; unfinished: number }[];
      }>(
        `select count(*)::int as calls,
                (count(*) - count(distinct (company_id, retell_call_id)))::int as dupes,
                count(*) filter (where status <> 'ended' or ended_at is null
                  or metadata->'retell'->'events' <> '["call_started", "call_ended"]'::jsonb)::int
                  as unfinished
           from calls where retell_call_id like 'drain-%'`,
      );
      const { rows: retried } = await check.raw<{ rows: { n: number }[] }>(
        `select count(*)::int as n from webhook_events where attempts <> 1`,
      );
      const statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      const processed = statuses.processed ?? 0;
      console.log(
        JSON.stringify(
          {
            events: opts.events,
            claimed: drained,
            seconds: Number(seconds.toFixed(2)),
            eventsPerSecond: Math.round(processed / seconds),
            workerCpuMsPerEvent: Number(((cpu.user + cpu.system) / 1000 / opts.events).toFixed(3)),
            loadAverage: { before: loadBefore, after: loadAfter },
            statuses,
            attemptsOtherThanOne: retried[0].n,
            calls: { ...calls[0], expected: Math.ceil(opts.events / 2) },
            groups: worker.groupStats,
            ...(profile ? { statements: profile() } : {}),
            options: worker.options,
          },
          null,
          2,
        ),
      );
      if (
        processed !== opts.events ||
        calls[0].dupes !== 0 ||
        calls[0].unfinished !== 0 ||
        calls[0].calls !== Math.ceil(opts.events / 2) ||
        retried[0].n !== 0
      ) {
        process.exitCode = 1;
      }
    } finally {
      await check.destroy();
    }
  } finally {
    if (!opts.keepDb) await dropDatabase(base, name);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
