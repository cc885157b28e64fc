import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrateLatest } from '../src/db/database';
import { signRetell } from '../src/webhooks/signatures';
import { freePort } from '../test/helpers/pgbouncer';
import { retellEvent, seedCompany, type SeededCompany } from '../test/webhooks/helpers';
import { Cluster, ServerProcess } from './cluster';

/**
 * The webhook inbox under faults, against the built server on a Postgres cluster of its own: a
 * retrying client sends signed Retell events at a steady rate while Postgres restarts, Postgres
 * is stopped for 10 s, the server is killed with -9 and started again, and two server processes
 * receive every event twice. Each scenario ends with exactly-once checks on the database: every
 * accepted event applied once, none left unfinished. Recovery times are printed.
 */
const RATE = Number(process.env.FAULT_RATE ?? 50);
const RETELL_KEY = `key_${randomBytes(12).toString('hex')}`;

const available = Cluster.available() && existsSync('dist/src/main.js');
if (!available) {
  const msg = `the fault suite needs ${'/usr/lib/postgresql/15/bin'} and a build (npm run build)`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n*** SKIPPED: ${msg} ***\n`);
}
const suite = available ? describe : describe.skip;

let cluster: Cluster;
let owner: Knex;
let company: SeededCompany;
let env: Record<string, string>;
let logDir: string;
const servers: ServerProcess[] = [];
const report: Record<string, unknown> = {};

async function newServer(): Promise<ServerProcess> {
  const s = new ServerProcess(await freePort(), env, join(logDir, `server-${servers.length}.log`));
  servers.push(s);
  await s.start();
  return s;
}

/** Sends signed Retell events at `RATE`/s; every event retried until accepted (or 90 s). */
class Load {
  readonly accepted = new Set<string>();
  readonly attempts: number[] = [];
  readonly lastAcceptedAt: number[] = [];
  private timer?: NodeJS.Timeout;
  private inflight = new Set<Promise<void>>();
  private n = 0;
  private readonly prefix = `f${randomBytes(4).toString('hex')}`;

  constructor(private readonly targets: () => string[]) {}

  start(): void {
    const interval = 1000 / RATE;
    this.timer = setInterval(() => {
      const callId = `${this.prefix}-${this.n++}`;
      const p = this.send(callId).finally(() => this.inflight.delete(p));
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

  private async send(callId: string): Promise<void> {
    const body = JSON.stringify(
      retellEvent('call_started', {
        call_id: callId,
        agent_id: company.agentId,
        to_number: company.number,
      }),
    );
    const results = await Promise.all(this.targets().map((url) => this.deliver(url, body)));
    if (results.some(Boolean)) {
      this.accepted.add(callId);
      this.lastAcceptedAt.push(Date.now());
    }
  }

  private async deliver(url: string, body: string): Promise<boolean> {
    const until = Date.now() + 90_000;
    for (let attempt = 1; ; attempt++) {
      let wait = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random());
      try {
        const res = await fetch(`${url}/api/webhooks/retell`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-retell-signature': signRetell(body, RETELL_KEY, Date.now()),
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.text();
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
      }
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
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
    cluster = await Cluster.create();
    const admin = knexFactory({
      client: 'pg',
      connection: cluster.url(),
      pool: { min: 0, max: 1 },
    });
    await admin.raw('create database app');
    await admin.destroy();
    owner = knexFactory({ client: 'pg', connection: cluster.url('app'), pool: { min: 0, max: 4 } });
    await migrateLatest(owner);
    await owner.raw('alter role app_runtime login');
    await owner.raw('alter role app_platform_client login');
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
    for (const s of servers) await s.stop().catch(() => undefined);
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
});
