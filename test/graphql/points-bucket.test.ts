import { randomUUID } from 'node:crypto';
import { startServer, type AppServer } from '../../src/app';
import { testConfig, type GraphqlLimitsConfig } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { limitsRuntimeOf } from '../../src/graphql/limits/runtime';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';
import { testDeps } from '../helpers/deps';

/**
 * Points buckets: each operation charges its cost to its company's bucket (and an API token's own);
 * an empty bucket answers RATE_LIMITED with Retry-After, and only for that company. With REDIS_URL
 * several server processes share one bucket. Every answer reports the cost and the bucket.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 10;
/** `me { name company { name } }` costs 2 and answers 2 objects, so nothing is refunded. */
const ME = '{ me { name company { name } } }';

let one: TestServer;
let two: AppServer;
let w: World;
let adminA: string;
let adminB: string;

function limits(): GraphqlLimitsConfig {
  return {
    ...testConfig().graphqlLimits,
    companyPointsPerWindow: LIMIT,
    windowSeconds: 600,
  };
}

beforeAll(async () => {
  // One Redis key prefix per test run, so parallel runs never share a bucket.
  const prefix = `gql-points-test-${randomUUID()}`;
  one = await startTestServer({
    graphqlLimits: limits(),
    redisUrl: REDIS_URL,
    redisKeyPrefix: prefix,
  });
  // A second server on the same database and the same Redis: another process, as far as the
  // buckets can tell (its own pool, its own Redis client, its own memory).
  const config = testConfig({
    port: 0,
    host: '127.0.0.1',
    databaseUrl: one.t.url,
    graphqlLimits: limits(),
    redisUrl: REDIS_URL,
    redisKeyPrefix: prefix,
  });
  two = await startServer(testDeps(await openDatabase({ url: one.t.url, poolMax: 5 }), { config }));
  w = await createWorld(one);
  adminA = await w.login(w.a.users.admin.email);
  adminB = await w.login(w.b.users.admin.email);
});
afterAll(async () => {
  await two.close();
  await one.close();
});

async function post(
  url: string,
  query: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

test('two server processes on one Redis share a company bucket; another company is not limited', async () => {
  const seen: number[] = [];
  // 5 operations of cost 2, alternating between the two servers, use up the 10 points.
  for (let i = 0; i < 5; i += 1) {
    const res = await post(i % 2 === 0 ? one.url : two.url, ME, adminA);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.extensions.cost).toMatchObject({
      requestedQueryCost: 2,
      actualQueryCost: 2,
      throttleStatus: { scope: 'company', maximumAvailable: LIMIT, windowSeconds: 600 },
    });
    expect(res.headers.get('ratelimit-limit')).toBe(String(LIMIT));
    expect(res.headers.get('ratelimit-policy')).toBe(`${LIMIT};w=600`);
    const remaining = Number(res.headers.get('ratelimit-remaining'));
    expect(res.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(remaining);
    seen.push(remaining);
  }
  expect(seen).toEqual([8, 6, 4, 2, 0]);

  // The sixth is refused by whichever server gets it.
  for (const url of [two.url, one.url]) {
    const refused = await post(url, ME, adminA);
    expect(refused.status).toBe(429);
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'points',
      scope: 'company',
      cost: 2,
      remaining: 0,
    });
    expect(refused.body.errors[0].message).toMatch(/points/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.body.extensions.cost.actualQueryCost).toBe(0);
  }

  // Company B has a bucket of its own.
  const other = await post(two.url, ME, adminB);
  expect(other.status).toBe(200);
  expect(other.body.data.me.name).toBeTruthy();
  expect(other.headers.get('ratelimit-remaining')).toBe(String(LIMIT - 2));

  // rateLimit is free and answers even with an empty bucket.
  const state = await post(
    one.url,
    '{ rateLimit { scope limit remaining used cost resetAt windowSeconds maxOperationCost } }',
    adminA,
  );
  expect(state.status).toBe(200);
  expect(state.body.data.rateLimit).toMatchObject({
    scope: 'company',
    limit: LIMIT,
    remaining: 0,
    used: LIMIT,
    cost: 0,
    windowSeconds: 600,
    maxOperationCost: 10_000,
  });
  expect(Date.parse(state.body.data.rateLimit.resetAt)).toBeGreaterThan(Date.now());

  const metric = await one.server.deps.metrics.registry.getSingleMetricAsString(
    'app_graphql_limit_hits_total',
  );
  expect(metric).toContain(`app_graphql_limit_hits_total{limit="points",company_id="${w.a.id}"}`);
});

test('what an operation did not use is refunded', async () => {
  // Company B: 8 points left. A page of up to 5 appointments is charged 1 + 5 × 1 = 6 and answers
  // the connection and the one appointment there is.
  const res = await post(one.url, '{ appointments(first: 5) { nodes { id } } }', adminB);
  expect(res.status).toBe(200);
  expect(res.body.extensions.cost).toMatchObject({ requestedQueryCost: 6, actualQueryCost: 2 });
  expect(res.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(LIMIT - 2 - 2);
  // Refunds are settled within a second; then every process sees them.
  await new Promise((r) => setTimeout(r, 1200));
  const state = await post(two.url, '{ rateLimit { remaining } }', adminB);
  expect(state.body.data.rateLimit.remaining).toBe(LIMIT - 2 - 2);
});

test('a super admin sets a company’s limit; it is audited and applies at once; others may not', async () => {
  const root = await w.login(w.superAdmin.email);

  const set = await post(
    one.url,
    'mutation { setCompanyApiPointsLimit(pointsPerWindow: 1000) { pointsPerWindow effectivePointsPerWindow windowSeconds } }',
    root,
    { 'x-company-id': w.a.id },
  );
  expect(set.body.errors).toBeUndefined();
  expect(set.body.data.setCompanyApiPointsLimit).toEqual({
    pointsPerWindow: 1000,
    effectivePointsPerWindow: 1000,
    windowSeconds: 600,
  });
  // The super admin's own bucket (10 points here) is now spent: a super admin outside the company
  // limits is metered like anyone else.
  // Company A, refused a moment ago, may spend again under its new limit (10 of 1000 used).
  const after = await post(one.url, ME, adminA);
  expect(after.status).toBe(200);
  expect(after.headers.get('ratelimit-limit')).toBe('1000');
  expect(after.headers.get('ratelimit-remaining')).toBe(String(1000 - LIMIT - 2));
  // The other server reads the new limit at its next refresh (every minute); here at once.
  await limitsRuntimeOf(two.deps).refreshCompanyLimits();
  const elsewhere = await post(two.url, ME, adminA);
  expect(elsewhere.headers.get('ratelimit-limit')).toBe('1000');

  // A company admin may not change the limit.
  const denied = await post(
    one.url,
    'mutation { setCompanyApiPointsLimit(pointsPerWindow: 100000) { pointsPerWindow } }',
    adminA,
  );
  expect(denied.body.errors[0].extensions.code).toBe('FORBIDDEN');

  const log = await one.t
    .superuser('activity_logs')
    .where({ company_id: w.a.id, action: 'company.api_points_limit.set' })
    .first();
  expect(log).toMatchObject({ actor_type: 'platform_admin', actor_id: w.superAdmin.id });
  expect(log.details).toEqual({ previous: null, pointsPerWindow: 1000 });
  const row = await one.t.superuser('companies').where({ id: w.a.id }).first();
  expect(row.api_points_per_hour).toBe(1000);
});

test('the runtime role cannot raise its company’s limit itself', async () => {
  await expect(
    one.t.db.knex.transaction(async (trx) => {
      await trx.raw(`select set_config('app.company_id', ?, true)`, [w.b.id]);
      await trx('companies').update({ api_points_per_hour: 1_000_000 });
    }),
  ).rejects.toThrow(/permission denied/);
});
