import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { createMetrics } from '../../src/observability/metrics';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld } from '../helpers/world';

/**
 * What the limits cost per request on the appointments page (50 appointments with customer, staff
 * and service): the same server with them (buckets in Redis) and without them
 * (BENCH_DISABLE_GRAPHQL_LIMITS), on one database, requests sequential over keep-alive, rounds
 * interleaved so drift on a shared machine hits both alike; the median round counts. The figure is
 * printed; the assertion only catches gross regressions, since the machine is shared.
 */
const REQUESTS_PER_ROUND = 200;
const ROUNDS = 5;
const PAGE = `query AppointmentsPage($first: Int!) {
  appointments(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id startsAt endsAt status customer { name phoneE164 } staff { name } service { name durationMinutes } }
  }
}`;

let limited: TestServer;
let bare: AppServer;
let token: string;

beforeAll(async () => {
  limited = await startTestServer({
    graphqlLimits: {
      ...testConfig().graphqlLimits,
      // LIMITS_OVERHEAD_STORE=memory measures the in-memory buckets instead.
      redisUrl:
        process.env.LIMITS_OVERHEAD_STORE === 'memory'
          ? undefined
          : (process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'),
      redisKeyPrefix: `gql-overhead-${randomUUID()}`,
    },
  });
  bare = await startServer({
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: limited.t.url,
      graphqlLimits: { ...testConfig().graphqlLimits, benchDisable: true },
    }),
    db: await openDatabase({ url: limited.t.url, poolMax: 20 }),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
  const w = await createWorld(limited);
  token = await w.login(w.a.users.admin.email);
  const db = limited.t.superuser;
  const c = w.a.id;
  const customers = await db('customers')
    .insert(Array.from({ length: 60 }, (_, i) => ({ company_id: c, name: `C${i}` })))
    .returning('id');
  const base = Date.UTC(2030, 0, 1, 8);
  await db('appointments').insert(
    customers.map((cu: { id: string }, i: number) => ({
      company_id: c,
      customer_id: cu.id,
      staff_id: i % 2 ? w.a.staffId : w.a.otherStaffId,
      service_id: w.a.serviceId,
      starts_at: new Date(base + i * 3600_000),
      ends_at: new Date(base + i * 3600_000 + 1800_000),
    })),
  );
}, 60_000);
afterAll(async () => {
  await bare.close();
  await limited.close();
});

interface Round {
  /** Wall time per request, ms. */
  wall: number;
  /** CPU time of this process (client and both servers) per request, ms. */
  cpu: number;
}

async function round(url: string): Promise<Round> {
  const body = JSON.stringify({ query: PAGE, variables: { first: 50 } });
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < REQUESTS_PER_ROUND; i += 1) {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const json = (await res.json()) as {
      errors?: unknown;
      data?: { appointments: { nodes: unknown[] } };
    };
    if (json.errors || json.data?.appointments.nodes.length !== 50) {
      throw new Error(`unexpected answer: ${JSON.stringify(json).slice(0, 300)}`);
    }
  }
  const cpu = process.cpuUsage(cpuBefore);
  return {
    wall: Number(process.hrtime.bigint() - started) / 1e6 / REQUESTS_PER_ROUND,
    cpu: (cpu.user + cpu.system) / 1000 / REQUESTS_PER_ROUND,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('the limits cost a small share of an appointments page', async () => {
  await round(limited.url);
  await round(bare.url);
  const on: Round[] = [];
  const off: Round[] = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    if (r % 2 === 0) {
      on.push(await round(limited.url));
      off.push(await round(bare.url));
    } else {
      off.push(await round(bare.url));
      on.push(await round(limited.url));
    }
  }
  const report = (what: 'wall' | 'cpu') => {
    const a = median(on.map((r) => r[what]));
    const b = median(off.map((r) => r[what]));
    const share = a / b - 1;
    console.log(
      `appointments page (50), ${limited.server.deps.config.graphqlLimits.redisUrl ? 'Redis' : 'memory'} buckets, ${what} per request: with limits ${a.toFixed(2)} ms, without ${b.toFixed(2)} ms, overhead ${(share * 100).toFixed(1)}% (rounds on: ${on.map((r) => r[what].toFixed(2)).join(', ')}; off: ${off.map((r) => r[what].toFixed(2)).join(', ')})`,
    );
    return share;
  };
  report('wall');
  // CPU time is the steadier figure on a shared machine: wall time also measures the neighbours.
  expect(report('cpu')).toBeLessThan(0.5);
}, 180_000);
