import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { accessTokenFor } from '../test/helpers/access-token';
import { freePort } from '../test/helpers/pgbouncer';
import { PgCluster } from '../test/helpers/replica-cluster';
import { insertCompany } from '../test/helpers/world';
import { ServerProcess } from './cluster';

/**
 * The read replica under faults, against the built server: a primary and a streaming standby of
 * the suite's own; read-only GraphQL queries at a steady rate (`FAULT_QUERY_RATE`, default 40/s),
 * each sent once, never retried. The standby is stopped for 5 s and started again. Every query
 * must be answered without an error, and reads must return to the standby afterwards.
 */
const RATE = Number(process.env.FAULT_QUERY_RATE ?? 40);

const available = PgCluster.available() && existsSync('dist/src/main.js');
if (!available) {
  const msg = `the fault suite needs ${'/usr/lib/postgresql/15/bin'} and a build (npm run build)`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n*** SKIPPED: ${msg} ***\n`);
}
const suite = available ? describe : describe.skip;

let primary: PgCluster;
let standby: PgCluster;
let owner: Knex;
let server: ServerProcess;
let token: string;
let metricsToken: string;
let logDir: string;
const report: Record<string, unknown> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends one query every 1/RATE s, never retried; records what each answer was. */
class QueryLoad {
  readonly results: Array<{ at: number; ok: boolean; ms: number; detail?: string }> = [];
  private timer?: NodeJS.Timeout;
  private inflight = new Set<Promise<void>>();

  start(): void {
    this.timer = setInterval(() => {
      const p = this.send().finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }, 1000 / RATE);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private async send(): Promise<void> {
    const at = Date.now();
    try {
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ customers(first: 10) { nodes { name } } }' }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as {
        data?: { customers?: { nodes: unknown[] } };
        errors?: unknown[];
      };
      const ok = res.status === 200 && !body.errors && body.data?.customers?.nodes.length === 1;
      this.results.push({
        at,
        ok,
        ms: Date.now() - at,
        detail: ok ? undefined : JSON.stringify(body).slice(0, 300),
      });
    } catch (err) {
      this.results.push({ at, ok: false, ms: Date.now() - at, detail: String(err) });
    }
  }
}

/** The server's read counters, `target/reason` → count, from /metrics. */
async function readCounters(): Promise<Record<string, number>> {
  const res = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${metricsToken}` },
  });
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(
    /^app_db_replica_reads_total\{target="(\w+)",reason="(\w+)"\} (\d+)/gm,
  )) {
    out[`${m[1]}/${m[2]}`] = Number(m[3]);
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > 60_000) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

suite('the read replica under faults', () => {
  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), 'faults-replica-logs-'));
    primary = await PgCluster.primary();
    owner = await primary.createAppDatabase(2);
    const companyId = await insertCompany(owner, { name: 'Replica Salon', slug: 'replica-salon' });
    await owner('customers').insert({ company_id: companyId, name: 'Only customer' });
    const jwtSecret = randomBytes(32).toString('hex');
    token = await accessTokenFor(
      owner,
      new TextEncoder().encode(jwtSecret),
      { sub: randomUUID(), typ: 'user', cid: companyId, roles: ['admin'] },
      3600,
    );
    standby = await PgCluster.replicaOf(primary);
    metricsToken = randomBytes(24).toString('hex');
    server = new ServerProcess(
      await freePort(),
      {
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        DATABASE_URL: primary.url('app'),
        DATABASE_RUNTIME_URL: primary.url('app', 'app_runtime'),
        DATABASE_PLATFORM_URL: primary.url('app', 'app_platform_client'),
        DATABASE_REPLICA_URL: standby.url('app', 'app_runtime'),
        DB_POOL_MAX: '10',
        JWT_SECRET: jwtSecret,
        METRICS_TOKEN: metricsToken,
        CREDENTIAL_ENCRYPTION_KEYS: `faults:${randomBytes(32).toString('base64')}`,
        GRAPHQL_COMPANY_POINTS: '100000000',
        SEED_DEMO_DATA: 'false',
      },
      join(logDir, 'server.log'),
    );
    await server.start();
    await until('the server reads from the standby', async () => {
      const before = (await readCounters())['replica/ok'] ?? 0;
      await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ customers(first: 1) { nodes { name } } }' }),
      });
      return ((await readCounters())['replica/ok'] ?? 0) > before;
    });
  }, 180_000);

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    await owner?.destroy();
    standby?.destroy();
    primary?.destroy();
    writeFileSync(join(logDir, 'report.json'), JSON.stringify(report, null, 2));
    console.log(`replica fault report (logs in ${logDir}):\n${JSON.stringify(report, null, 2)}`);
  });

  test('standby stopped for 5 s under query load: every query answered, reads return to it', async () => {
    const load = new QueryLoad();
    const before = await readCounters();
    load.start();
    await sleep(3000);
    const stoppedAt = Date.now();
    standby.stop();
    await sleep(5000);
    standby.start();
    const startedAt = Date.now();
    const during = await readCounters();
    const backMs = await until('reads return to the standby', async () => {
      const now = await readCounters();
      return (now['replica/ok'] ?? 0) > (during['replica/ok'] ?? 0);
    });
    await sleep(2000);
    await load.stop();
    const after = await readCounters();

    const failed = load.results.filter((r) => !r.ok);
    const delta = Object.fromEntries(
      Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]),
    );
    const firstPrimary = load.results.find((r) => r.at >= stoppedAt);
    report.standbyStopped = {
      queries: load.results.length,
      failed: failed.length,
      failures: failed.slice(0, 5).map((f) => f.detail),
      reads: delta,
      slowestAnswerMs: Math.max(...load.results.map((r) => r.ms)),
      firstAnswerAfterStopMs: firstPrimary?.ms,
      backToStandbyAfterStartMs: backMs,
      standbyDownMs: startedAt - stoppedAt,
    };
    expect(failed).toEqual([]);
    expect(load.results.length).toBeGreaterThan(RATE * 8);
    // Served by the primary while the standby was away, and by the standby before and after.
    expect(
      (delta['primary/unavailable'] ?? 0) + (delta['primary/replica_error'] ?? 0),
    ).toBeGreaterThan(0);
    expect(delta['replica/ok']).toBeGreaterThan(0);
  });
});
