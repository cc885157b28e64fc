import { Writable } from 'node:stream';
import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import type { Config } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { signRetell } from '../../src/webhooks/signatures';
import { adminKnex, createTestDatabase, type TestDatabase } from '../helpers/pg';
import { postCalcom, postRetell, retellEvent, unique, webhookConfig, calcomEvent } from './helpers';
import { testDeps } from '../helpers/deps';

/** Throttling, logging and what happens when the database cannot take an event. */
let t: TestDatabase;
const servers: AppServer[] = [];
const logLines: string[] = [];

async function serve(config: Partial<Config>, db = t): Promise<AppServer> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  // Each server gets a pool of its own: closing a server closes its database handle.
  const server = await startServer(
    testDeps(await openDatabase({ url: db.url, poolMax: 10 }), {
      config: webhookConfig({ databaseUrl: db.url, ...config }),
      logger: pino({ level: 'info' }, sink),
    }),
  );
  servers.push(server);
  return server;
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  await t.drop();
});

async function closeServer(server: AppServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

const count = async (db: TestDatabase) =>
  Number((await db.superuser('webhook_events').count({ n: '*' }))[0].n);

describe('throttle', () => {
  test('60 requests a minute per address, then 429 with Retry-After, counted', async () => {
    const server = await serve({ webhookRateLimitPerMinute: 60 });
    const started = Date.now();
    const burst = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${server.url}/api/webhooks/retell`, { method: 'POST', body: '{}' }),
      ),
    );
    expect(burst.map((r) => r.status)).toEqual(Array(60).fill(401));
    // The budget refills at one request a second, so allow for however long the burst took.
    const grace = Math.ceil((Date.now() - started) / 1000);
    let limited: Response | undefined;
    for (let i = 0; i <= grace && !limited; i++) {
      const res = await postRetell(
        server.url,
        retellEvent('call_started', { call_id: unique('c') }),
      );
      if (res.status === 429) limited = res;
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited!.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    // Cal.com and the legacy path share the address's budget.
    const calcom = await postCalcom(server.url, calcomEvent('PING', {}));
    const legacy = await fetch(`${server.url}/api/webhook`, { method: 'POST', body: '{}' });
    const refused = [calcom.status, legacy.status].filter((s) => s === 429).length;
    expect(refused).toBeGreaterThanOrEqual(1);
    const metric = await server.deps.metrics.rateLimitRejections.get();
    expect(metric.values.find((v) => v.labels.limiter === 'webhook')?.value).toBe(1 + refused);
  });

  /** Sends 60 at once, then until refused; true when refused within the refill grace. */
  async function exhaust(send: (i: number) => Promise<Response>): Promise<boolean> {
    const started = Date.now();
    await Promise.all(Array.from({ length: 60 }, (_, i) => send(i)));
    const grace = Math.ceil((Date.now() - started) / 1000);
    for (let i = 0; i <= grace; i++) if ((await send(60 + i)).status === 429) return true;
    return false;
  }

  test('behind a trusted proxy the client address comes from X-Forwarded-For', async () => {
    const server = await serve({ webhookRateLimitPerMinute: 60, trustProxy: 1 });
    const from = (ip: string) =>
      fetch(`${server.url}/api/webhooks/retell`, {
        method: 'POST',
        body: '{}',
        headers: { 'x-forwarded-for': ip },
      });
    expect(await exhaust(() => from('203.0.113.7'))).toBe(true);
    expect((await from('198.51.100.9')).status).toBe(401);
  });

  test('without TRUST_PROXY a forged X-Forwarded-For does not escape the limit', async () => {
    const server = await serve({ webhookRateLimitPerMinute: 60 });
    const forged = (i: number) =>
      fetch(`${server.url}/api/webhooks/retell`, {
        method: 'POST',
        body: '{}',
        headers: { 'x-forwarded-for': `10.0.${Math.floor(i / 250)}.${i % 250}` },
      });
    expect(await exhaust(forged)).toBe(true);
  });
});

test('rejections are logged with provider and reason, never with the signature', async () => {
  const server = await serve({});
  logLines.length = 0;
  const raw = JSON.stringify(retellEvent('call_started', { call_id: unique('c') }));
  const signature = signRetell(raw, 'wrong-key', Date.now());
  const res = await fetch(`${server.url}/api/webhooks/retell`, {
    method: 'POST',
    headers: { 'x-retell-signature': signature },
    body: raw,
  });
  expect(res.status).toBe(401);
  const line = logLines.find((l) => l.includes('webhook signature rejected'));
  expect(line).toBeDefined();
  expect(JSON.parse(line!)).toMatchObject({ provider: 'retell', reason: 'mismatch' });
  const digest = signature.split('d=')[1];
  expect(logLines.join('\n')).not.toContain(digest);
});

describe('database unavailable', () => {
  test('the inbox table unusable: 503 with Retry-After, nothing half-written, then accepted', async () => {
    const own = await createTestDatabase();
    const server = await serve({}, own);
    try {
      await own.superuser.raw('alter table webhook_events rename to webhook_events_away');
      const raw = JSON.stringify(
        retellEvent('call_started', { call_id: unique('c'), agent_id: 'a' }),
      );
      const res = await postRetell(server.url, raw);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      // Retry-After carries jitter (30 s +/- 50 %), so refused providers do not return in step.
      const answers = [res];
      for (let i = 0; i < 11; i++) answers.push(await postRetell(server.url, raw));
      const after = answers.map((r) => Number(r.headers.get('retry-after')));
      expect(answers.every((r) => r.status === 503)).toBe(true);
      for (const seconds of after) {
        expect(seconds).toBeGreaterThanOrEqual(15);
        expect(seconds).toBeLessThanOrEqual(45);
      }
      expect(new Set(after).size).toBeGreaterThanOrEqual(3);
      await own.superuser.raw('alter table webhook_events_away rename to webhook_events');
      expect(await count(own)).toBe(0);
      // The provider's retry is stored once.
      expect((await postRetell(server.url, raw)).status).toBe(202);
      expect((await postRetell(server.url, raw)).status).toBe(200);
      expect(await count(own)).toBe(1);
    } finally {
      await closeServer(server);
      await own.drop();
    }
  });

  test('connections refused (database down): 503, and accepted again once it is back', async () => {
    const own = await createTestDatabase();
    const admin = adminKnex();
    const server = await serve({}, own);
    try {
      const first = await postRetell(
        server.url,
        retellEvent('call_started', { call_id: unique('c') }),
      );
      expect(first.status).toBe(202);
      await admin.raw('alter database ?? with allow_connections false', [own.name]);
      await admin.raw(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = ? and pid <> pg_backend_pid()',
        [own.name],
      );
      const raw = JSON.stringify(retellEvent('call_started', { call_id: unique('c') }));
      const down = await postRetell(server.url, raw);
      expect(down.status).toBe(503);
      await admin.raw('alter database ?? with allow_connections true', [own.name]);
      // A pooled connection terminated above may still fail one request; the provider's retry lands.
      let res = await postRetell(server.url, raw);
      if (res.status === 503) res = await postRetell(server.url, raw);
      expect(res.status).toBe(202);
      // A fresh connection: the helper's pooled one was terminated with the others.
      const fresh = adminKnex(own.name);
      try {
        expect(Number((await fresh('webhook_events').count({ n: '*' }))[0].n)).toBe(2);
      } finally {
        await fresh.destroy();
      }
    } finally {
      await admin
        .raw('alter database ?? with allow_connections true', [own.name])
        .catch(() => undefined);
      await admin.destroy();
      await closeServer(server);
      await own.drop();
    }
  });
});

test('WEBHOOKS_ALLOW_UNSIGNED (development only) accepts unsigned events, never forged ones', async () => {
  const server = await serve({ allowUnsignedWebhooks: true });
  const raw = JSON.stringify(retellEvent('call_started', { call_id: unique('c') }));
  const unsigned = await fetch(`${server.url}/api/webhooks/retell`, { method: 'POST', body: raw });
  expect(unsigned.status).toBe(202);
  // There is no shared Cal.com secret to skip: Cal.com deliveries need a company endpoint, and an
  // endpoint always checks its secret, in development too.
  const calcom = await postCalcom(server.url, calcomEvent('PING', {}), {
    signature: 'no-secret-provided',
  });
  expect(calcom.status).toBe(401);
  const forged = await fetch(`${server.url}/api/webhooks/retell`, {
    method: 'POST',
    headers: { 'x-retell-signature': signRetell(raw, 'wrong-key', Date.now()) },
    body: raw,
  });
  expect(forged.status).toBe(401);
});
