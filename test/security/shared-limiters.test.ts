import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { createMetrics } from '../../src/observability/metrics';
import { limitersOf } from '../../src/security/limits';
import { RedisSignInLimiter } from '../../src/security/limits/redis-sign-in-limiter';
import { createLimiterRedis, waitReady } from '../../src/security/limits/redis';
import { MemorySignInLimiter } from '../../src/security/sign-in-limiter';
import { createCallLimiter } from '../../src/voice/limits';
import { startOwnRedis, type OwnRedis } from '../helpers/redis-server';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, PASSWORD, type World } from '../helpers/world';

/**
 * Every limiter on one store: with REDIS_URL several server processes count together (two app
 * instances on one database and one Redis, a key prefix of this run's own), and with Redis killed
 * each limiter follows its documented rule (sign-in and voice count in the process, the webhook
 * throttle and the GraphQL points fail open), counted in app_rate_limiter_store_degraded_total,
 * and nothing crashes.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const SIGN_IN = {
  accountLimit: 5,
  pairLimit: 3,
  addressLimit: 8,
  baseMs: 30_000,
  maxMs: 120_000,
  forgetMs: 600_000,
  knownPairMs: 3_600_000,
};

const LOGIN = `mutation($e: String!, $p: String!) {
  login(input: { email: $e, password: $p }) { accessToken }
}`;

async function gql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

const signIn = async (url: string, email: string, password: string, address: string) => {
  const res = await gql(url, LOGIN, { e: email, p: password }, { 'x-forwarded-for': address });
  return {
    ok: Boolean(res.body.data?.login?.accessToken),
    code: res.body.errors?.[0]?.extensions?.code as string | undefined,
  };
};

const webhook = (url: string, address: string) =>
  fetch(`${url}/api/webhooks/retell`, {
    method: 'POST',
    body: '{}',
    headers: { 'x-forwarded-for': address },
  });

const degraded = async (server: AppServer, limiter: string, rule: string): Promise<number> => {
  const metric = await server.deps.metrics.limiterStoreDegraded.get();
  return metric.values.find((v) => v.labels.limiter === limiter && v.labels.rule === rule)
    ?.value as number;
};

/** Two app instances on one database (the second with its own pool, Redis client, memory). */
async function twoInstances(overrides: Partial<Config>): Promise<[TestServer, AppServer]> {
  const one = await startTestServer(overrides);
  const two = await startServer({
    config: testConfig({ port: 0, host: '127.0.0.1', databaseUrl: one.t.url, ...overrides }),
    db: await openDatabase({ url: one.t.url, poolMax: 5 }),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
  return [one, two];
}

describe('two app instances on one Redis', () => {
  let one: TestServer;
  let two: AppServer;
  let w: World;

  beforeAll(async () => {
    [one, two] = await twoInstances({
      redisUrl: REDIS_URL,
      redisKeyPrefix: `limits-test-${randomUUID()}`,
      trustProxy: true,
      signInLimits: SIGN_IN,
      webhookRateLimitPerMinute: 6,
    });
    w = await createWorld(one);
  });
  afterAll(async () => {
    await two.close();
    await one.close();
  });

  test('sign-in failures in one process count in the other', async () => {
    const email = w.b.users.admin.email;
    // Five failures from five addresses, spread over both processes: the account key is full.
    for (let i = 0; i < 5; i++) {
      const url = i < 3 ? one.url : two.url;
      expect(await signIn(url, email, 'wrong', `203.0.113.${10 + i}`)).toEqual({
        ok: false,
        code: 'UNAUTHENTICATED',
      });
    }
    // Either process now refuses the account, even with the right password from a new address.
    expect((await signIn(two.url, email, PASSWORD, '203.0.113.50')).code).toBe('RATE_LIMITED');
    expect((await signIn(one.url, email, PASSWORD, '203.0.113.51')).code).toBe('RATE_LIMITED');
    // Another account is not affected.
    expect((await signIn(two.url, w.a.users.admin.email, PASSWORD, '203.0.113.52')).ok).toBe(true);
    expect(await degraded(two, 'sign_in', 'in_process')).toBeUndefined();
  });

  test('the webhook throttle is shared per address', async () => {
    const address = '198.51.100.23';
    for (let i = 0; i < 6; i++) {
      expect((await webhook(i % 2 === 0 ? one.url : two.url, address)).status).toBe(401);
    }
    for (const url of [one.url, two.url]) {
      const refused = await webhook(url, address);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    expect((await webhook(two.url, '198.51.100.24')).status).toBe(401);
  });
});

test('parallel sign-in attempts on two processes: at most the limit get a verification', async () => {
  const prefix = `limits-test-${randomUUID()}`;
  const clients = [createLimiterRedis(REDIS_URL), createLimiterRedis(REDIS_URL)];
  try {
    const limiters = clients.map(
      (redis) =>
        new RedisSignInLimiter(redis, prefix, SIGN_IN, {
          fallback: new MemorySignInLimiter(SIGN_IN),
          ready: () => waitReady(redis),
        }),
    );
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        limiters[i % 2].reserve({ account: 'race@example.test', address: `192.0.2.${i}` }),
      ),
    );
    const allowed = results.filter((r) => r.allowed);
    expect(allowed).toHaveLength(SIGN_IN.accountLimit);
    expect(results.filter((r) => !r.allowed).every((r) => !r.allowed && r.key === 'account')).toBe(
      true,
    );
    // A success hands its slot back and makes the pair the owner's usual address, from which the
    // locked account key no longer applies.
    const first = allowed[0] as (typeof allowed)[0] & { allowed: true };
    await limiters[0].succeeded(first);
    const usual = await limiters[1].reserve({ account: 'race@example.test', address: '192.0.2.0' });
    expect(usual.allowed).toBe(true);
  } finally {
    for (const c of clients) c.disconnect();
  }
});

describe('Redis killed', () => {
  let redis: OwnRedis;
  let one: TestServer;
  let two: AppServer;
  let w: World;
  let token: string;

  beforeAll(async () => {
    redis = await startOwnRedis();
    [one, two] = await twoInstances({
      redisUrl: redis.url,
      redisKeyPrefix: `limits-test-${randomUUID()}`,
      trustProxy: true,
      signInLimits: SIGN_IN,
      webhookRateLimitPerMinute: 3,
      voiceLimits: { perCall: 2, perMinute: 100, perFunction: 100 },
    });
    w = await createWorld(one);
    token = await w.login(w.a.users.admin.email);
    // Shared while Redis is up.
    expect(limitersOf(one.server.deps).kind).toBe('redis');
    await redis.kill();
  });
  afterAll(async () => {
    await two.close();
    await one.close();
    await redis.kill();
  });

  test('sign-in counts in the process: still limited, never locked out of everything', async () => {
    const email = w.b.users.admin.email;
    for (let i = 0; i < 5; i++) {
      expect((await signIn(one.url, email, 'wrong', `203.0.113.${100 + i}`)).code).toBe(
        'UNAUTHENTICATED',
      );
    }
    expect((await signIn(one.url, email, PASSWORD, '203.0.113.120')).code).toBe('RATE_LIMITED');
    // Not fail-closed: the other process and other accounts still sign in.
    expect((await signIn(two.url, email, PASSWORD, '203.0.113.121')).ok).toBe(true);
    expect((await signIn(one.url, w.a.users.staff.email, PASSWORD, '203.0.113.122')).ok).toBe(true);
    expect(await degraded(one.server, 'sign_in', 'in_process')).toBeGreaterThanOrEqual(6);
  });

  test('the webhook throttle fails open', async () => {
    for (let i = 0; i < 6; i++) expect((await webhook(one.url, '198.51.100.40')).status).toBe(401);
    expect(await degraded(one.server, 'webhook', 'fail_open')).toBeGreaterThanOrEqual(6);
  });

  test('GraphQL points fail open', async () => {
    const res = await gql(one.url, '{ me { name } }', {}, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body.data.me.name).toBeTruthy();
    expect(await degraded(one.server, 'graphql_points', 'fail_open')).toBeGreaterThanOrEqual(1);
  });

  test('voice per-call limits count in the process at the same limits', async () => {
    const limiter = createCallLimiter(one.server.deps.config.voiceLimits, {
      limiters: limitersOf(one.server.deps),
    });
    const call = `call-${randomUUID()}`;
    expect(await limiter.take(call, 'list_services')).toEqual({ allowed: true });
    expect(await limiter.take(call, 'list_services')).toEqual({ allowed: true });
    expect(await limiter.take(call, 'list_services')).toEqual({
      allowed: false,
      limit: 'per_call',
    });
    expect(await degraded(one.server, 'voice_per_call', 'in_process')).toBeGreaterThanOrEqual(3);
  });

  test('the servers keep answering', async () => {
    for (const url of [one.url, two.url]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
  });

  test('Redis back on the same address: counting is shared again, without a restart', async () => {
    redis = await startOwnRedis(redis.port);
    const clients = [limitersOf(one.server.deps).redis!, limitersOf(two.deps).redis!];
    const deadline = Date.now() + 10_000;
    while (clients.some((c) => c.status !== 'ready')) {
      if (Date.now() > deadline) throw new Error('the limiters did not reconnect');
      await new Promise((r) => setTimeout(r, 50));
    }
    const failOpens = await degraded(one.server, 'webhook', 'fail_open');
    const address = '198.51.100.41';
    for (let i = 0; i < 3; i++) expect((await webhook(one.url, address)).status).toBe(401);
    expect((await webhook(two.url, address)).status).toBe(429);
    expect(await degraded(one.server, 'webhook', 'fail_open')).toBe(failOpens);
  });
});
