import http from 'node:http';
import express from 'express';
import type { AppServer } from '../../src/app';
import { requestIdMiddleware } from '../../src/http/request-id';
import { annotateRequestLog, observeHttp, setRouteTemplate } from '../../src/observability/http';
import { observeDatabase } from '../../src/observability/db';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  captureLog,
  sampleValue,
  scrape,
  startTestServer,
  testDeps,
  waitFor,
  type CapturedLog,
} from './helpers';

const requestLines = (log: CapturedLog) => log.lines.filter((l) => l.msg === 'request completed');

describe('the real server', () => {
  let t: TestDatabase;
  let log: CapturedLog;
  let server: AppServer;

  beforeAll(async () => {
    t = await createTestDatabase();
    log = captureLog();
    server = await startTestServer(t, log);
  });
  afterAll(async () => {
    await server.close();
    await t.drop();
  });

  test('a request gets one JSON log line with its request id, trace id, route and status', async () => {
    const res = await fetch(`${server.url}/healthz`, {
      headers: { 'x-request-id': 'req-abc-12345' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-abc-12345');
    const traceparent = res.headers.get('traceparent');
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);

    const line = await waitFor('the request line', () =>
      requestLines(log).find((l) => l.requestId === 'req-abc-12345'),
    );
    expect(line).toMatchObject({
      level: 'debug', // probes are logged at debug level only
      service: 'tenant-voice-graphql',
      method: 'GET',
      route: '/healthz',
      path: '/healthz',
      status: 200,
      traceId: traceparent!.split('-')[1],
      spanId: traceparent!.split('-')[2],
      dbStatements: 0,
    });
    expect(typeof line.durationMs).toBe('number');
    expect(typeof line.time).toBe('string');
  });

  test("a caller's valid traceparent is continued; the response names this server's span", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const res = await fetch(`${server.url}/readyz`, {
      headers: { traceparent: `00-${traceId}-${parent}-01` },
    });
    expect(res.status).toBe(200);
    const [version, gotTrace, span, flags] = res.headers.get('traceparent')!.split('-');
    expect([version, gotTrace, flags]).toEqual(['00', traceId, '01']);
    expect(span).not.toBe(parent);
    const requestId = res.headers.get('x-request-id');
    const line = await waitFor('the request line', () =>
      requestLines(log).find((l) => l.requestId === requestId),
    );
    expect(line).toMatchObject({ traceId, parentSpanId: parent, spanId: span, route: '/readyz' });
    // /readyz reads the database inside the request, so its statements are attributed to it.
    expect(line.dbStatements).toBeGreaterThanOrEqual(2);
  });

  test.each([
    ['garbage'],
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01'], // all-zero trace id
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'], // all-zero parent
    ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'], // forbidden version
    ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'], // upper case
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'], // v00 has four fields
  ])('an invalid traceparent (%s) starts a new trace', async (header) => {
    const res = await fetch(`${server.url}/healthz`, { headers: { traceparent: header } });
    const value = res.headers.get('traceparent')!;
    expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(value.split('-')[1]).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  test('a request no route matched is labelled "unmatched", never by its URL', async () => {
    const res = await fetch(`${server.url}/no/such/place/12345?token=secret-value`);
    expect(res.status).toBe(404);
    const text = await scrape(server.url);
    expect(text).not.toContain('/no/such/place');
    expect(
      sampleValue(text, 'app_http_request_duration_seconds_count', {
        route: 'unmatched',
        status_class: '4xx',
        method: 'GET',
      }),
    ).toBeGreaterThanOrEqual(1);
    const requestId = res.headers.get('x-request-id');
    const line = await waitFor('the request line', () =>
      requestLines(log).find((l) => l.requestId === requestId),
    );
    expect(line).toMatchObject({ level: 'info', route: 'unmatched', path: '/no/such/place/12345' });
    expect(JSON.stringify(line)).not.toContain('secret-value');
  });

  test('the metrics endpoint serves the pool, business and process gauges', async () => {
    const text = await scrape(server.url);
    expect(sampleValue(text, 'app_db_pool_connections_max')).toBe(20);
    expect(sampleValue(text, 'app_db_pool_connections_in_use')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(text, 'app_db_pool_acquires_pending')).toBe(0);
    expect(sampleValue(text, 'app_companies', { state: 'active' })).toBe(0);
    expect(sampleValue(text, 'app_callback_requests_open', { status: 'pending' })).toBe(0);
    expect(sampleValue(text, 'app_metrics_collector_errors_total')).toBe(0);
    expect(sampleValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleValue(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
  });
});

describe('business gauges', () => {
  let t: TestDatabase;
  let server: AppServer;

  beforeAll(async () => {
    t = await createTestDatabase();
    server = await startTestServer(t, captureLog('silent'));
  });
  afterAll(async () => {
    await server.close();
    await t.drop();
  });

  test('count callback requests, webhook inbox events and companies across all companies', async () => {
    const [a] = await t.superuser('companies').insert({ name: 'A', slug: 'a-co' }).returning('id');
    const [b] = await t.superuser('companies').insert({ name: 'B', slug: 'b-co' }).returning('id');
    await t.superuser('companies').insert({ name: 'C', slug: 'c-co', archived_at: new Date() });
    const past = new Date(Date.now() - 3600_000);
    await t.superuser('callback_requests').insert([
      {
        company_id: a.id,
        phone_e164: '+491701234567',
        status: 'pending',
        priority: 'high',
        due_at: past,
      },
      { company_id: b.id, phone_e164: '+491701234568', status: 'pending', priority: 'high' },
      { company_id: b.id, phone_e164: '+491701234569', status: 'assigned', priority: 'normal' },
      { company_id: b.id, phone_e164: '+491701234560', status: 'done', priority: 'normal' },
    ]);
    // Not due for a day, so the server's webhook worker does not claim them during the test.
    const event = (provider: string, status: string, i: number, ageSeconds: number) => ({
      provider,
      status,
      event_type: 'call_ended',
      dedupe_key: `${provider}-${status}-${i}`,
      payload_raw: '{}',
      payload: {},
      received_at: new Date(Date.now() - ageSeconds * 1000),
      next_attempt_at: new Date(Date.now() + 86400_000),
    });
    await t
      .superuser('webhook_events')
      .insert([
        event('retell', 'pending', 1, 600),
        event('retell', 'pending', 2, 10),
        event('calcom', 'failed', 1, 60),
        event('calcom', 'processed', 1, 6000),
      ]);

    const text = await scrape(server.url);
    expect(sampleValue(text, 'app_companies', { state: 'active' })).toBe(2);
    expect(sampleValue(text, 'app_companies', { state: 'archived' })).toBe(1);
    expect(
      sampleValue(text, 'app_callback_requests_open', { status: 'pending', priority: 'high' }),
    ).toBe(2);
    expect(sampleValue(text, 'app_callback_requests_open', { status: 'assigned' })).toBe(1);
    expect(sampleValue(text, 'app_callback_requests_open')).toBe(3);
    expect(sampleValue(text, 'app_callback_requests_overdue')).toBe(1);
    expect(
      sampleValue(text, 'app_webhook_inbox_events', { provider: 'retell', status: 'pending' }),
    ).toBe(2);
    expect(
      sampleValue(text, 'app_webhook_inbox_events', { provider: 'calcom', status: 'failed' }),
    ).toBe(1);
    expect(sampleValue(text, 'app_webhook_inbox_events', { status: 'processed' })).toBeUndefined();
    const age = sampleValue(text, 'app_webhook_inbox_oldest_age_seconds', {
      provider: 'retell',
      status: 'pending',
    });
    expect(age).toBeGreaterThanOrEqual(599);
    expect(age).toBeLessThan(700);
    expect(sampleValue(text, 'app_metrics_collector_errors_total')).toBe(0);
  });
});

describe('protecting /metrics', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t.drop());

  test('with METRICS_TOKEN a scrape needs the bearer token', async () => {
    const server = await startTestServer(t, captureLog('silent'), {
      metricsToken: 'scrape-token-1',
    });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${server.url}/metrics`, {
        headers: { authorization: 'Bearer scrape-token-2' },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const text = await scrape(server.url, 'scrape-token-1');
      expect(text).toContain('# TYPE app_http_request_duration_seconds histogram');
    } finally {
      await server.close();
    }
  });

  test('with METRICS_PORT the metrics are served on that port only', async () => {
    const port = await freePort();
    // startServer closes the database on close, so this server gets one of its own.
    const own = await createTestDatabase();
    const server = await startTestServer(own, captureLog('silent'), { metricsPort: port });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      const text = await waitFor('the metrics port', () => scrape(`http://127.0.0.1:${port}`));
      expect(text).toContain('app_db_pool_connections_max');
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await server.close();
      await own.drop();
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});

describe('an app with routes, statements and annotations', () => {
  let t: TestDatabase;
  let log: CapturedLog;
  let url: string;
  let deps: ReturnType<typeof testDeps>;
  let server: http.Server;

  beforeAll(async () => {
    t = await createTestDatabase();
    log = captureLog();
    deps = testDeps(t, log);
    // A low slow-statement threshold, installed before the middleware installs the default.
    observeDatabase(deps, { slowStatementSeconds: 0.2 });
    const app = express();
    app.use(requestIdMiddleware);
    app.use(observeHttp(deps, { maxRoutes: 6 }));
    app.get('/things/:thingId', async (req, res) => {
      annotateRequestLog(req, { companyId: 'company-1', userId: 'user-1', ignored: undefined });
      await deps.db.knex.raw('select 1');
      await deps.db.knex.transaction(async (trx) => {
        await trx.raw('select 2');
      });
      res.json({ id: req.params.thingId });
    });
    const router = express.Router();
    router.get('/items/:itemId', (_req, res) => {
      res.json({ ok: true });
    });
    app.use('/api/companies/:companyId', router);
    app.post('/webhooks/:provider', (req, res) => {
      setRouteTemplate(req, '/webhooks/{provider}');
      res.status(202).end();
    });
    app.get('/slow', async (_req, res) => {
      await deps.db.knex.raw('select pg_sleep(0.3)');
      res.json({ ok: true });
    });
    app.get('/boom', (req) => {
      annotateRequestLog(req, { companyId: '7b0cbb2b-1a8e-4d55-9f8c-7a0c1d3b0a11' });
      throw new Error('boom');
    });
    app.get('/r/:n', (_req, res) => {
      res.end();
    });
    app.use((_req, res) => {
      res.status(404).end();
    });
    app.use(
      (
        _err: unknown,
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(500).json({ error: 'internal' });
      },
    );
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    await t.drop();
  });

  const lineFor = async (res: Response) => {
    const requestId = res.headers.get('x-request-id');
    return waitFor('the request line', () =>
      requestLines(log).find((l) => l.requestId === requestId),
    );
  };
  const metricsText = () => deps.metrics.registry.metrics();

  test('the route label is the template, with the mount path, and statements are counted', async () => {
    const res = await fetch(`${url}/things/8f1c2d`);
    expect(res.status).toBe(200);
    const line = await lineFor(res);
    expect(line).toMatchObject({
      route: '/things/:thingId',
      path: '/things/8f1c2d',
      companyId: 'company-1',
      userId: 'user-1',
      dbStatements: 4, // select 1, BEGIN, select 2, COMMIT
    });
    expect(line).not.toHaveProperty('ignored');
    expect(line.dbMs).toBeGreaterThan(0);

    const nested = await fetch(
      `${url}/api/companies/9c6f0b52-3f7e-4f43-a1a4-0c5c7b9d2e10/items/42`,
    );
    expect((await lineFor(nested)).route).toBe('/api/companies/:param/items/:itemId');

    const webhook = await fetch(`${url}/webhooks/retell`, { method: 'POST' });
    expect((await lineFor(webhook)).route).toBe('/webhooks/{provider}');

    const text = await metricsText();
    expect(text).not.toContain('8f1c2d');
    expect(text).not.toContain('9c6f0b52');
    expect(
      sampleValue(text, 'app_http_request_duration_seconds_count', {
        route: '/things/:thingId',
        method: 'GET',
        status_class: '2xx',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'app_db_statements_per_request_sum', { route: '/things/:thingId' }),
    ).toBe(4);
    expect(
      sampleValue(text, 'app_db_statement_duration_seconds_count', {
        kind: 'select',
        outcome: 'success',
      }),
    ).toBeGreaterThanOrEqual(2);
  });

  test('a slow statement is counted and logged with its request, without bound values', async () => {
    const res = await fetch(`${url}/slow`);
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    const slow = await waitFor('the slow statement line', () =>
      log.lines.find((l) => l.msg === 'slow SQL statement' && l.requestId === requestId),
    );
    expect(slow).toMatchObject({ level: 'warn', kind: 'select', sql: 'select pg_sleep(0.3)' });
    expect(slow.traceId).toBe(res.headers.get('traceparent')!.split('-')[1]);
    expect(
      sampleValue(await metricsText(), 'app_db_slow_statements_total', { kind: 'select' }),
    ).toBe(1);
  });

  test('a server error is logged at error level and counted for its company', async () => {
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const line = await lineFor(res);
    expect(line).toMatchObject({ level: 'error', status: 500, route: '/boom' });
    const text = await metricsText();
    expect(
      sampleValue(text, 'app_tenant_server_errors_total', {
        company_id: '7b0cbb2b-1a8e-4d55-9f8c-7a0c1d3b0a11',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'app_http_request_duration_seconds_count', { status_class: '5xx' }),
    ).toBe(1);
  });

  test('route templates past the cap fold into "other"', async () => {
    // Routes so far: /things/:thingId, the nested one, /webhooks/{provider}, /slow, /boom (5 of 6).
    await fetch(`${url}/r/1`);
    await fetch(`${url}/nothing-here`);
    const text = await metricsText();
    expect(sampleValue(text, 'app_http_request_duration_seconds_count', { route: '/r/:n' })).toBe(
      1,
    );
    expect(
      sampleValue(text, 'app_http_request_duration_seconds_count', { route: 'unmatched' }),
    ).toBeUndefined();
    expect(sampleValue(text, 'app_http_request_duration_seconds_count', { route: 'other' })).toBe(
      1,
    );
  });

  test('a request in flight is counted, and one the client abandons is logged as aborted (499)', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const app = express();
    const local = testDeps(t, captureLog('silent'));
    const aborted = captureLog();
    local.logger = aborted.logger;
    app.use(requestIdMiddleware);
    app.use(observeHttp(local));
    app.get('/wait', async (_req, res) => {
      await hold;
      if (!res.writableEnded) res.end();
    });
    const s = http.createServer(app);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = s.address() as { port: number };
      const controller = new AbortController();
      const pending = fetch(`http://127.0.0.1:${port}/wait`, { signal: controller.signal }).catch(
        () => undefined,
      );
      await waitFor('the request in flight', async () =>
        sampleValue(await local.metrics.registry.metrics(), 'app_http_requests_in_flight') === 1
          ? true
          : undefined,
      );
      controller.abort();
      await pending;
      const line = await waitFor('the aborted request line', () =>
        aborted.lines.find((l) => l.msg === 'request completed'),
      );
      expect(line).toMatchObject({ status: 499, aborted: true, route: '/wait' });
      expect(
        sampleValue(await local.metrics.registry.metrics(), 'app_http_requests_in_flight'),
      ).toBe(0);
    } finally {
      release();
      const closed = new Promise((resolve) => s.close(resolve));
      s.closeAllConnections();
      await closed;
    }
  });
});

async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
