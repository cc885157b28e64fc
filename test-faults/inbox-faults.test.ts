import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { signRetell } from '../src/webhooks/signatures';
import { freePort } from '../test/helpers/pgbouncer';
import { startOwnRedis, type OwnRedis } from '../test/helpers/redis-server';
import { retellEvent, seedCompany, type SeededCompany } from '../test/webhooks/helpers';
import { PgCluster } from '../test/helpers/replica-cluster';
import { ServerProcess } from './cluster';

/**
 * The webhook inbox under faults, against the built server on a Postgres cluster of its own: a
 * retrying client sends signed Retell events at a steady rate while Postgres restarts, Postgres
 * is stopped for 10 s, the server is killed with -9 and started again, and two server processes
 * receive every event twice, and a Redis of the suite's own (the limiters' store) is killed with -9
 * under webhook and GraphQL load and started again. Each scenario ends with exactly-once checks on the database: every
 * accepted event applied once, none left unfinished. Recovery times are printed.
 */
const RATE = Number(process.env.FAULT_RATE ?? 50);
const RETELL_KEY = `key_${randomBytes(12).toString('hex')}`;

const available = PgCluster.available() && existsSync('dist/src/main.js');
if (!available) {
  const msg = `the fault suite needs ${'/usr/lib/postgresql/15/bin'} and a build (npm run build)`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n*** SKIPPED: ${msg} ***\n`);
}
const suite = available ? describe : describe.skip;

let cluster: PgCluster;
let owner: Knex;
let company: SeededCompany;
let env: Record<string, string>;
let logDir: string;
const servers: ServerProcess[] = [];
const redises: OwnRedis[] = [];
/** Every load started, stopped after the suite even when a scenario failed half-way. */
const loads: Array<{ stop(): Promise<void> }> = [];
const report: Record<string, unknown> = {};

async function newServer(): Promise<ServerProcess> {
  const s = new ServerProcess(await freePort(), env, join(logDir, `server-${servers.length}.log`));
  servers.push(s);
  await s.start();
  return s;
}

/** Counts answers by HTTP status (0: no answer: refused, reset or timed out). */
class Statuses {
  readonly counts = new Map<number, number>();
  add(status: number): void {
    this.counts.set(status, (this.counts.get(status) ?? 0) + 1);
  }
  get serverErrors(): number {
    return [...this.counts].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a - b));
  }
}

/** A client address of its own for the n-th event (behind TRUST_PROXY=1). */
const spreadAddress = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

/**
 * Sends signed Retell events at `RATE`/s; every event retried until accepted (or 90 s). With
 * `spreadAddresses` each event comes from an address of its own (X-Forwarded-For), so the
 * per-address webhook throttle never refuses the load.
 */
class Load {
  readonly accepted = new Set<string>();
  readonly statuses = new Statuses();
  readonly attempts: number[] = [];
  readonly lastAcceptedAt: number[] = [];
  private timer?: NodeJS.Timeout;
  private inflight = new Set<Promise<void>>();
  private n = 0;
  private readonly prefix = `f${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly targets: () => string[],
    private readonly options: { spreadAddresses?: boolean } = {},
  ) {}

  start(): void {
    loads.push(this);
    const interval = 1000 / RATE;
    this.timer = setInterval(() => {
      const n = this.n++;
      const callId = `${this.prefix}-${n}`;
      const p = this.send(callId, n).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }, interval);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  get sent(): number {
    return this.n;
  }

  private async send(callId: string, n: number): Promise<void> {
    const body = JSON.stringify(
      retellEvent('call_started', {
        call_id: callId,
        agent_id: company.agentId,
        to_number: company.number,
      }),
    );
    const headers: Record<string, string> = this.options.spreadAddresses
      ? { 'x-forwarded-for': spreadAddress(n) }
      : {};
    const results = await Promise.all(
      this.targets().map((url) => this.deliver(url, body, headers)),
    );
    if (results.some(Boolean)) {
      this.accepted.add(callId);
      this.lastAcceptedAt.push(Date.now());
    }
  }

  private async deliver(
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<boolean> {
    const until = Date.now() + 90_000;
    for (let attempt = 1; ; attempt++) {
      let wait = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random());
      try {
        const res = await fetch(`${url}/api/webhooks/retell`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-retell-signature': signRetell(body, RETELL_KEY, Date.now()),
            ...headers,
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.text();
        this.statuses.add(res.status);
        if (res.status >= 200 && res.status < 300) {
          this.attempts.push(attempt);
          return true;
        }
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0)
          wait = retryAfter * 1000 * (0.5 + Math.random());
        if (res.status < 500 && res.status !== 429) return false;
      } catch {
        // refused or reset: the server or its database is away
        this.statuses.add(0);
      }
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Anonymous GraphQL operations at `rate`/s, each from an address of its own: each is charged to
 * the anonymous points bucket of its address (in Redis when it is up) before it runs.
 */
class GraphqlLoad {
  readonly statuses = new Statuses();
  private timer?: NodeJS.Timeout;
  private inflight = new Set<Promise<void>>();
  private n = 0;

  constructor(
    private readonly url: string,
    private readonly rate = 20,
  ) {}

  start(): void {
    loads.push(this);
    this.timer = setInterval(() => {
      const p = this.send(this.n++).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }, 1000 / this.rate);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private async send(n: number): Promise<void> {
    try {
      const res = await fetch(`${this.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': `172.16.${(n >> 8) & 255}.${n & 255}`,
        },
        body: JSON.stringify({ query: '{ me { name } }' }),
        signal: AbortSignal.timeout(10_000),
      });
      await res.text();
      this.statuses.add(res.status);
    } catch {
      this.statuses.add(0);
    }
  }
}

/** Sends `count` unsigned deliveries from one address; the answers' statuses, in order. */
async function burst(url: string, address: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/api/webhooks/retell`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: '{}',
      // Generous: the machine may be busy; an answer is what is checked, not its speed.
      signal: AbortSignal.timeout(60_000),
    });
    await res.text();
    statuses.push(res.status);
  }
  return statuses;
}

/** A counter of the server's /metrics (0 when it has no such sample yet). */
async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${env.METRICS_TOKEN}` },
  });
  const text = await res.text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

/** Waits until every accepted event is applied; returns how long it took. */
async function waitApplied(load: Load, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  const ids = [...load.accepted];
  for (;;) {
    const { rows } = await owner.raw<{ rows: { n: number }[] }>(
      'select count(distinct retell_call_id)::int as n from calls where retell_call_id = any(?)',
      [ids],
    );
    if (rows[0].n === ids.length) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`only ${rows[0].n} of ${ids.length} accepted events applied`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every accepted event applied exactly once; nothing stored is left unfinished. */
async function expectExactlyOnce(load: Load): Promise<void> {
  const ids = [...load.accepted];
  const { rows } = await owner.raw<{ rows: { calls: number; distinct: number }[] }>(
    `select count(*)::int as calls, count(distinct retell_call_id)::int as distinct
       from calls where retell_call_id = any(?)`,
    [ids],
  );
  expect(rows[0]).toEqual({ calls: ids.length, distinct: ids.length });
  const { rows: events } = await owner.raw<{ rows: { status: string; n: number }[] }>(
    `select status, count(*)::int as n from webhook_events
      where payload->'call'->>'call_id' = any(?) group by status`,
    [ids],
  );
  expect(events).toEqual([{ status: 'processed', n: ids.length }]);
  const { rows: stuck } = await owner.raw<{ rows: { n: number }[] }>(
    `select count(*)::int as n from webhook_events where status in ('processing','failed','dead')`,
  );
  expect(stuck[0].n).toBe(0);
}

/** The longest an accepted event waited between being stored and being applied. */
async function maxAppliedLateMs(load: Load): Promise<number> {
  const { rows } = await owner.raw<{ rows: { ms: number | null }[] }>(
    `select (extract(epoch from max(processed_at - received_at)) * 1000)::int as ms
       from webhook_events where payload->'call'->>'call_id' = any(?)`,
    [[...load.accepted]],
  );
  return rows[0].ms ?? 0;
}

/** The first acceptance after `since`: how long ingest took to recover. */
function firstAcceptedAfter(load: Load, since: number): number | null {
  const t = load.lastAcceptedAt.filter((x) => x >= since).sort((a, b) => a - b)[0];
  return t === undefined ? null : t - since;
}

function summary(load: Load) {
  const over4 = load.attempts.filter((a) => a > 4).length;
  return {
    sent: load.sent,
    accepted: load.accepted.size,
    maxAttempts: Math.max(0, ...load.attempts),
    deliveriesOver4Attempts: `${((100 * over4) / Math.max(1, load.attempts.length)).toFixed(1)}%`,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

suite('the webhook inbox under faults', () => {
  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), 'faults-logs-'));
    cluster = await PgCluster.primary();
    owner = await cluster.createAppDatabase(4);
    company = await seedCompany(owner);
    env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: cluster.url('app'),
      DATABASE_RUNTIME_URL: cluster.url('app', 'app_runtime'),
      DATABASE_PLATFORM_URL: cluster.url('app', 'app_platform_client'),
      DB_POOL_MAX: '10',
      JWT_SECRET: randomBytes(32).toString('hex'),
      METRICS_TOKEN: randomBytes(24).toString('hex'),
      CREDENTIAL_ENCRYPTION_KEYS: `faults:${randomBytes(32).toString('base64')}`,
      RETELL_API_KEYS: RETELL_KEY,
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '100000',
      SEED_DEMO_DATA: 'false',
    };
    await newServer();
  }, 180_000);

  afterAll(async () => {
    for (const l of loads) await l.stop().catch(() => undefined);
    for (const s of servers) await s.stop().catch(() => undefined);
    for (const r of redises) await r.kill().catch(() => undefined);
    await owner?.destroy();
    cluster?.destroy();
    writeFileSync(join(logDir, 'report.json'), JSON.stringify(report, null, 2));
    console.log(`fault suite report (logs in ${logDir}):\n${JSON.stringify(report, null, 2)}`);
  });

  test('Postgres restarted under load: nothing lost, nothing applied twice', async () => {
    const load = new Load(() => [servers[0].url]);
    load.start();
    await sleep(4000);
    cluster.restart();
    const back = Date.now();
    await owner.destroy();
    owner = knexFactory({ client: 'pg', connection: cluster.url('app'), pool: { min: 0, max: 4 } });
    await sleep(4000);
    await load.stop();
    const drainMs = await waitApplied(load);
    await expectExactlyOnce(load);
    report.postgresRestart = {
      ...summary(load),
      ingestRecoveredMs: firstAcceptedAfter(load, back),
      backlogAppliedMsAfterLoad: drainMs,
      maxAppliedLateMs: await maxAppliedLateMs(load),
    };
  });

  test('Postgres stopped for 10 s under load: nothing lost, nothing applied twice', async () => {
    const load = new Load(() => [servers[0].url]);
    load.start();
    await sleep(3000);
    cluster.stop();
    await sleep(10_000);
    cluster.start();
    const back = Date.now();
    await owner.destroy();
    owner = knexFactory({ client: 'pg', connection: cluster.url('app'), pool: { min: 0, max: 4 } });
    await sleep(5000);
    await load.stop();
    const drainMs = await waitApplied(load);
    await expectExactlyOnce(load);
    report.postgresOutage10s = {
      ...summary(load),
      ingestRecoveredMs: firstAcceptedAfter(load, back),
      backlogAppliedMsAfterLoad: drainMs,
      maxAppliedLateMs: await maxAppliedLateMs(load),
    };
  });

  test('the server killed with -9 and started again: nothing lost, nothing applied twice', async () => {
    const load = new Load(() => [servers[0].url]);
    load.start();
    await sleep(3000);
    servers[0].kill9();
    const killed = Date.now();
    await sleep(200);
    const startupMs = await servers[0].start();
    await sleep(4000);
    await load.stop();
    const drainMs = await waitApplied(load);
    await expectExactlyOnce(load);
    report.serverKill9 = {
      ...summary(load),
      serverStartupMs: startupMs,
      ingestRecoveredMs: firstAcceptedAfter(load, killed),
      backlogAppliedMsAfterLoad: drainMs,
      maxAppliedLateMs: await maxAppliedLateMs(load),
    };
  });

  test('two server processes receive every event twice: each applied once', async () => {
    await newServer();
    const load = new Load(() => [servers[0].url, servers[1].url]);
    load.start();
    await sleep(6000);
    await load.stop();
    const drainMs = await waitApplied(load);
    await expectExactlyOnce(load);
    const { rows } = await owner.raw<{ rows: { n: number }[] }>(
      `select count(*)::int as n from (select dedupe_key from webhook_events
         group by provider, dedupe_key having count(*) > 1) d`,
    );
    expect(rows[0].n).toBe(0);
    report.twoProcessesEveryEventTwice = {
      ...summary(load),
      backlogAppliedMsAfterLoad: drainMs,
      maxAppliedLateMs: await maxAppliedLateMs(load),
    };
  });

  test('Redis killed -9 under webhook and GraphQL load: limiters follow their rules, nothing lost', async () => {
    const LIMIT = 5;
    const redis = await startOwnRedis();
    redises.push(redis);
    const prefix = `faults-${randomBytes(4).toString('hex')}`;
    const server = new ServerProcess(
      await freePort(),
      {
        ...env,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: prefix,
        TRUST_PROXY: '1',
        WEBHOOK_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      },
      join(logDir, `server-${servers.length}-redis.log`),
    );
    servers.push(server);
    await server.start();
    // With Redis up, the throttle refuses the delivery over the limit.
    expect((await burst(server.url, '192.0.2.1', LIMIT + 1)).at(-1)).toBe(429);

    const load = new Load(() => [server.url], { spreadAddresses: true });
    const graphql = new GraphqlLoad(server.url);
    load.start();
    graphql.start();
    await sleep(3000);
    await redis.kill();
    await sleep(2000);
    // Redis away: the webhook throttle fails open (more than the limit from one address passes
    // on to the signature check), counted as degraded.
    const duringOutage = await burst(server.url, '192.0.2.2', LIMIT + 2);
    expect(duringOutage.every((s) => s === 401)).toBe(true);
    await sleep(3000);
    const webhookFailOpens = await metric(server.url, 'app_rate_limiter_store_degraded_total', {
      limiter: 'webhook',
      rule: 'fail_open',
    });
    const graphqlFailOpens = await metric(server.url, 'app_rate_limiter_store_degraded_total', {
      limiter: 'graphql_points',
      rule: 'fail_open',
    });
    expect(webhookFailOpens).toBeGreaterThan(0);
    expect(graphqlFailOpens).toBeGreaterThan(0);

    // Redis back on its port, empty: within a generous bound the throttle counts there again.
    redises.push(await startOwnRedis(redis.port));
    const back = Date.now();
    let limitedAgainMs: number | null = null;
    for (let i = 0; limitedAgainMs === null && Date.now() - back < 60_000; i++) {
      const statuses = await burst(server.url, `192.0.2.${10 + i}`, LIMIT + 1);
      if (statuses.at(-1) === 429) limitedAgainMs = Date.now() - back;
      else await sleep(500);
    }
    expect(limitedAgainMs).not.toBeNull();
    await sleep(2000);
    await load.stop();
    await graphql.stop();

    // Counted in Redis again, and no longer as degraded.
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      expect((await client.keys(`${prefix}:*`)).length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
    const failOpensAfter = await metric(server.url, 'app_rate_limiter_store_degraded_total', {
      limiter: 'webhook',
      rule: 'fail_open',
    });
    expect((await burst(server.url, '192.0.2.250', LIMIT + 1)).at(-1)).toBe(429);
    expect(
      await metric(server.url, 'app_rate_limiter_store_degraded_total', {
        limiter: 'webhook',
        rule: 'fail_open',
      }),
    ).toBe(failOpensAfter);

    // No crash, no 5xx (every limiter fails open or counts in the process), exactly once.
    expect(server.running).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(load.statuses.serverErrors).toBe(0);
    expect(graphql.statuses.serverErrors).toBe(0);
    expect(load.accepted.size).toBe(load.sent);
    const drainMs = await waitApplied(load);
    await expectExactlyOnce(load);
    report.redisKilled = {
      ...summary(load),
      webhookAnswers: load.statuses.toJSON(),
      graphqlAnswers: graphql.statuses.toJSON(),
      webhookFailOpens,
      graphqlFailOpens,
      limitedAgainMsAfterRedisBack: limitedAgainMs,
      backlogAppliedMsAfterLoad: drainMs,
      maxAppliedLateMs: await maxAppliedLateMs(load),
    };
  });
});
