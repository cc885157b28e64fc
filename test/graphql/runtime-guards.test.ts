import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testConfig, type GraphqlLimitsConfig } from '../../src/config';
import { RequestContext } from '../../src/context/request-context';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, type World } from '../helpers/world';

/**
 * What the static model lets through still ends: a statement timeout per request and a cap on
 * the answer's size. Buckets in memory without Redis (API tokens have their own), fail-open when
 * Redis is down, and persisted operations for first-party front ends.
 */
const PERSISTED = '{ me { name } }';
/** The sign-in of test/helpers/world.ts, as a front end would have it listed. */
const LOGIN =
  'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }';
/** 25 copies of an appointment page with its customer: more than the 4 KB answer cap of this test. */
const BIG = `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: appointments(first: 1) { nodes { id startsAt endsAt status notes customer { name email phoneE164 } } }`).join(' ')} }`;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

let s: TestServer;
let w: World;
let admin: string;

function limits(overrides: Partial<GraphqlLimitsConfig>): GraphqlLimitsConfig {
  return { ...testConfig().graphqlLimits, ...overrides };
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'persisted-'));
  const file = path.join(dir, 'operations.json');
  writeFileSync(file, JSON.stringify([PERSISTED, LOGIN, BIG]));
  s = await startTestServer({
    graphqlLimits: limits({
      maxResponseBytes: 4096,
      tokenPointsPerWindow: 5,
      statementTimeoutMs: 200,
      persistedOperationsFile: file,
      persistedOperationsOnly: true,
    }),
  });
  w = await createWorld(s);
  admin = await w.login(w.a.users.admin.email);
});
afterAll(async () => s.close());

async function post(body: unknown, token?: string) {
  const res = await fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const persisted = (query: string) => ({
  query,
  extensions: { persistedQuery: { version: 1, sha256Hash: sha(query) } },
});

test('with persisted operations required, signed-in users may send only listed operations', async () => {
  const other = await post({ query: '{ me { email } }' }, admin);
  expect(other.status).toBe(400);
  expect(other.body.errors[0].extensions).toMatchObject({
    code: 'PERSISTED_QUERY_NOT_FOUND',
    limit: 'persistedOnly',
  });
  const byText = await post({ query: PERSISTED }, admin);
  expect(byText.body.data.me.name).toBeTruthy();
  const byHash = await post(
    { extensions: { persistedQuery: { version: 1, sha256Hash: sha(PERSISTED) } } },
    admin,
  );
  expect(byHash.status).toBe(200);
  expect(byHash.body.data.me.name).toBeTruthy();
});

test('API tokens (partners) have a bucket of their own and are not held to persisted operations', async () => {
  const created = await post(
    persisted(
      'mutation { createApiToken(input: { name: "partner", scopes: ["appointments:read"] }) { token } }',
    ),
    admin,
  );
  // The admin is held to persisted operations; the mutation is not listed.
  expect(created.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  const { createApiToken } = await import('../../src/auth/auth.service');
  const { runInContext } = await import('../../src/context/request-context');
  const { token } = await runInContext(
    {
      deps: s.server.deps,
      actor: {
        kind: 'user',
        userId: w.a.users.admin.id,
        companyId: w.a.id,
        roles: ['admin'],
        staffId: null,
      },
      companyId: w.a.id,
    },
    (ctx) =>
      ctx.unitOfWork(() => createApiToken(ctx, { name: 'partner', scopes: ['appointments:read'] })),
  );
  // 1 + 2 × (1 + 1) = 5 points: the token's whole bucket.
  const page = '{ appointments(first: 2) { nodes { id service { name } } } }';
  const first = await post({ query: page }, token);
  expect(first.status).toBe(200);
  expect(first.body.extensions.cost.requestedQueryCost).toBe(5);
  // The token's bucket is the tighter one, and is reported.
  expect(first.body.extensions.cost.throttleStatus).toMatchObject({
    scope: 'apiToken',
    maximumAvailable: 5,
  });
  const spend = await post({ query: '{ appointments(first: 3) { nodes { id } } }' }, token);
  // What the first one did not use came back; 4 points are not enough for this one.
  expect(spend.status).toBe(429);
  expect(spend.body.errors[0].extensions).toMatchObject({
    code: 'RATE_LIMITED',
    scope: 'apiToken',
  });
  // The company's bucket is not the one that ran out.
  const company = await post({ query: PERSISTED }, admin);
  expect(company.status).toBe(200);
});

test('an answer larger than the cap is replaced by a clear error', async () => {
  const res = await post({ query: BIG }, admin);
  expect(res.status).toBe(200);
  expect(res.body.data).toBeNull();
  expect(res.body.errors).toHaveLength(1);
  expect(res.body.errors[0].extensions).toMatchObject({
    code: 'QUERY_LIMIT_EXCEEDED',
    limit: 'responseSize',
    max: 4096,
  });
  expect(res.body.errors[0].extensions.actual).toBeGreaterThan(4096);
  expect(res.body.errors[0].extensions.requestId).toBeTruthy();
  const metric = await s.server.deps.metrics.registry.getSingleMetricAsString(
    'app_graphql_limit_hits_total',
  );
  expect(metric).toContain(`limit="responseSize",company_id="${w.a.id}"`);
});

test('each request transaction carries the statement timeout, so a slow statement ends', async () => {
  const ctx = new RequestContext({
    deps: s.server.deps,
    actor: { kind: 'system', name: 'webhook' },
    companyId: w.a.id,
    statementTimeoutMs: 200,
  });
  const trx = await ctx.trx();
  const { rows } = (await trx.raw('show statement_timeout')) as {
    rows: Array<Record<string, string>>;
  };
  expect(rows[0].statement_timeout).toBe('200ms');
  const started = Date.now();
  await expect(trx.raw('select pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
  expect(Date.now() - started).toBeLessThan(1500);
  await ctx.finish(false);
  // The setting is transaction-local: the pooled connection does not keep it.
  const other = (await s.t.db.knex.raw('show statement_timeout')) as {
    rows: Array<Record<string, string>>;
  };
  expect(other.rows[0].statement_timeout).not.toBe('200ms');
});

test('without Redis reachable the bucket fails open, counted and answered', async () => {
  const down = await startTestServer({
    graphqlLimits: limits({}),
    redisUrl: 'redis://127.0.0.1:1',
    redisKeyPrefix: 'unreachable',
  });
  try {
    const world = await createWorld(down);
    const token = await world.login(world.a.users.admin.email);
    const res = await fetch(`${down.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { name } }' }),
    });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.data.me.name).toBeTruthy();
    const metric = await down.server.deps.metrics.registry.getSingleMetricAsString(
      'app_graphql_points_bucket_fail_open_total',
    );
    expect(metric).toMatch(/app_graphql_points_bucket_fail_open_total [1-9]/);
  } finally {
    await down.close();
  }
});

test('a statement cancelled by the timeout answers a clear error, counted with the company', async () => {
  const { HeaderMap } = await import('@apollo/server');
  const { GraphQLError } = await import('graphql');
  const { createLimitsPlugin } = await import('../../src/graphql/limits/plugin');
  const { limitsRuntimeOf } = await import('../../src/graphql/limits/runtime');
  const { buildAppSchema } = await import('../../src/graphql/schema');
  const deps = s.server.deps;
  const plugin = createLimitsPlugin(deps, buildAppSchema(), limitsRuntimeOf(deps));
  const ctx = new RequestContext({
    deps,
    actor: { kind: 'system', name: 'webhook' },
    companyId: w.a.id,
    requestId: 'timeout-request',
  });
  const listener = (await plugin.requestDidStart!({ request: { http: { body: {} } } } as never))!;
  const cancelled = Object.assign(new Error('canceling statement due to statement timeout'), {
    code: '57014',
  });
  await listener.didEncounterErrors!({
    contextValue: { ctx },
    errors: [new GraphQLError('Internal error', { originalError: cancelled })],
  } as never);
  const response = {
    http: { headers: new HeaderMap() },
    body: {
      kind: 'single',
      singleResult: {
        data: null,
        errors: [{ message: 'Internal error', extensions: { code: 'INTERNAL' } }],
      },
    },
  };
  await listener.willSendResponse!({ contextValue: { ctx }, response } as never);
  expect(response.body.singleResult.errors).toEqual([
    {
      message: 'The operation ran longer than the statement timeout of 200 ms',
      extensions: {
        code: 'QUERY_LIMIT_EXCEEDED',
        limit: 'statementTimeout',
        max: 200,
        requestId: 'timeout-request',
      },
    },
  ]);
  const metric = await deps.metrics.registry.getSingleMetricAsString(
    'app_graphql_limit_hits_total',
  );
  expect(metric).toContain(`limit="statementTimeout",company_id="${w.a.id}"`);
});
