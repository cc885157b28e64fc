import { randomUUID } from 'node:crypto';
import { startServer, type AppServer } from '../../src/app';
import { signRetell } from '../../src/webhooks/signatures';
import { accessTokenFor } from '../helpers/access-token';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  CALCOM_SECRET,
  RETELL_KEY,
  RETELL_KEY_2,
  calcomEvent,
  postCalcom,
  postRetell,
  retellEvent,
  seedCompany,
  unique,
  waitFor,
  webhookConfig,
  type SeededCompany,
} from './helpers';
import { testDeps } from '../helpers/deps';

/**
 * The webhook routes end to end: a real server on Postgres, its background worker applying the
 * stored events.
 */
let t: TestDatabase;
let server: AppServer;
let co: SeededCompany;

beforeAll(async () => {
  t = await createTestDatabase();
  server = await startServer(
    testDeps(t.db, {
      config: webhookConfig({ databaseUrl: t.url, webhookBodyLimitBytes: 64 * 1024 }),
    }),
  );
  co = await seedCompany(t.superuser);
});
afterAll(async () => {
  await server?.close();
  await t.drop();
});

const eventCount = async () => Number((await t.superuser('webhook_events').count({ n: '*' }))[0].n);
const metricValue = async (name: string, labels: Record<string, string>) => {
  const metric = await server.deps.metrics.registry.getSingleMetric(name)?.get();
  const found = metric?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return found?.value ?? 0;
};

describe('signature rejection', () => {
  const raw = JSON.stringify(retellEvent('call_started', { call_id: 'sig-check', agent_id: 'x' }));
  const cases: [string, Record<string, string>, string, string | undefined][] = [
    ['missing', {}, 'missing', undefined],
    ['malformed', { 'x-retell-signature': 'garbage' }, 'malformed', undefined],
    [
      'forged',
      { 'x-retell-signature': `v=${Date.now()},d=${'ab'.repeat(32)}` },
      'mismatch',
      undefined,
    ],
    [
      'wrong key',
      { 'x-retell-signature': signRetell(raw, 'not-our-key', Date.now()) },
      'mismatch',
      undefined,
    ],
    [
      'stale',
      { 'x-retell-signature': signRetell(raw, RETELL_KEY, Date.now() - 6 * 60_000) },
      'stale',
      undefined,
    ],
    [
      'future',
      { 'x-retell-signature': signRetell(raw, RETELL_KEY, Date.now() + 6 * 60_000) },
      'future',
      undefined,
    ],
    [
      'tampered',
      { 'x-retell-signature': signRetell(raw, RETELL_KEY, Date.now()) },
      'mismatch',
      raw.replace('sig-check', 'sig-chekk'),
    ],
    [
      're-serialised',
      { 'x-retell-signature': signRetell(raw, RETELL_KEY, Date.now()) },
      'mismatch',
      JSON.stringify(JSON.parse(raw), null, 2),
    ],
  ];
  test.each(cases)(
    'Retell %s: 401, generic body, nothing stored, counted',
    async (_n, headers, reason, sent) => {
      const before = await metricValue('app_webhook_signature_rejections_total', {
        provider: 'retell',
        reason,
      });
      const res = await fetch(`${server.url}/api/webhooks/retell`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: sent ?? raw,
      });
      expect(res.status).toBe(401);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Unauthorized' });
      expect(await eventCount()).toBe(0);
      expect(
        await metricValue('app_webhook_signature_rejections_total', { provider: 'retell', reason }),
      ).toBe(before + 1);
    },
  );

  test('the legacy /api/webhook path verifies the same way', async () => {
    const res = await fetch(`${server.url}/api/webhook`, { method: 'POST', body: raw });
    expect(res.status).toBe(401);
    expect(await eventCount()).toBe(0);
  });

  test('Cal.com: no-secret-provided, wrong secret and missing are refused', async () => {
    const body = calcomEvent('BOOKING_CREATED', { uid: 'sig', eventTypeId: co.eventTypeId });
    for (const signature of ['no-secret-provided', 'f'.repeat(64), '']) {
      const res = await postCalcom(server.url, body, { signature, endpoint: co.calcomEndpointId });
      expect(res.status).toBe(401);
    }
    expect(
      (await postCalcom(server.url, body, { secret: 'nope', endpoint: co.calcomEndpointId }))
        .status,
    ).toBe(401);
    expect(await eventCount()).toBe(0);
    expect(
      await metricValue('app_webhook_signature_rejections_total', {
        provider: 'calcom',
        reason: 'missing',
      }),
    ).toBe(2);
  });
});

describe('ingest', () => {
  test('a signed Retell event is stored with its exact bytes and applied', async () => {
    const callId = unique('call');
    const raw = JSON.stringify(
      retellEvent('call_started', {
        call_id: callId,
        agent_id: co.agentId,
        from_number: co.customerPhone,
        to_number: co.number,
      }),
      null,
      1,
    );
    const res = await postRetell(server.url, raw, {
      key: RETELL_KEY_2,
      headers: { 'user-agent': 'axios/1.7' },
    });
    expect(res.status).toBe(202);
    const { id, status } = (await res.json()) as { id: string; status: string };
    expect(status).toBe('accepted');
    const row = await t.superuser('webhook_events').where({ id }).first();
    expect(row).toMatchObject({
      provider: 'retell',
      event_type: 'call_started',
      dedupe_key: `call_started:${callId}`,
      payload_raw: raw,
    });
    expect(row.headers).toMatchObject({
      'user-agent': 'axios/1.7',
      'content-type': 'application/json',
    });
    expect(JSON.stringify(row.headers)).not.toMatch(/x-retell-signature/);
    const done = await waitFor(async () => {
      const r = await t.superuser('webhook_events').where({ id }).first();
      return r.status === 'processed' ? r : undefined;
    });
    expect(done.resolved_company_id).toBe(co.companyId);
    const call = await t.superuser('calls').where({ retell_call_id: callId }).first();
    expect(call).toMatchObject({
      company_id: co.companyId,
      status: 'ongoing',
      customer_id: co.customerId,
    });
  });

  test('the same event delivered 10 times, then 10 times at once: one row, one effect', async () => {
    const callId = unique('call');
    const raw = JSON.stringify(
      retellEvent('call_ended', { call_id: callId, agent_id: co.agentId, to_number: co.number }),
    );
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await postRetell(server.url, raw, {
        path: i % 2 ? '/api/webhook' : '/api/webhooks/retell',
      });
      statuses.push(res.status);
      if (i > 0) expect(await res.json()).toMatchObject({ status: 'duplicate' });
    }
    expect(statuses).toEqual([202, ...Array(9).fill(200)]);
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () => postRetell(server.url, raw)),
    );
    expect(concurrent.map((r) => r.status)).toEqual(Array(10).fill(200));

    const calRaw = JSON.stringify(
      calcomEvent('BOOKING_CREATED', { uid: unique('bk'), eventTypeId: co.eventTypeId }),
    );
    const calStatuses = await Promise.all(
      Array.from({ length: 10 }, () =>
        postCalcom(server.url, calRaw, { endpoint: co.calcomEndpointId }),
      ),
    );
    expect(calStatuses.map((r) => r.status).sort()).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 200, 202,
    ]);

    await waitFor(async () => {
      const pending = await t
        .superuser('webhook_events')
        .whereIn('status', ['pending', 'processing'])
        .count({ n: '*' });
      return Number(pending[0].n) === 0;
    });
    expect(
      await t.superuser('webhook_events').where({ dedupe_key: `call_ended:${callId}` }),
    ).toHaveLength(1);
    expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);
    const booking = JSON.parse(calRaw) as { payload: { uid: string } };
    expect(
      await t.superuser('appointments').where({ calcom_booking_uid: booking.payload.uid }),
    ).toHaveLength(1);
    expect(
      await metricValue('app_webhook_events_received_total', {
        provider: 'retell',
        duplicate: 'true',
      }),
    ).toBeGreaterThanOrEqual(19);
    expect(await metricValue('app_appointments_booked_total', { source: 'calcom' })).toBe(1);
  });

  test('bodies above the limit get 413 with a JSON error', async () => {
    const raw = JSON.stringify(
      retellEvent('call_started', { call_id: 'big', padding: 'x'.repeat(70 * 1024) }),
    );
    const res = await postRetell(server.url, raw);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  test('a signed body that is not a JSON event is answered 400 and kept as rejected raw text', async () => {
    const before = await eventCount();
    expect((await postRetell(server.url, 'not json')).status).toBe(400);
    expect((await postRetell(server.url, '{"call":{}}')).status).toBe(400);
    expect((await postCalcom(server.url, '[]', { endpoint: co.calcomEndpointId })).status).toBe(
      400,
    );
    // A retry of the same bytes is the same delivery: one row.
    expect((await postCalcom(server.url, '[]', { endpoint: co.calcomEndpointId })).status).toBe(
      400,
    );
    expect(await eventCount()).toBe(before + 3);
    const rows = await t
      .superuser('webhook_events')
      .where({ status: 'rejected' })
      .whereIn('payload_raw', ['not json', '{"call":{}}', '[]'])
      .select('payload_raw', 'payload', 'last_error');
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.payload).toBeNull();
      expect(row.last_error).toMatch(/^Body must/);
    }
  });

  test('events not acted on are stored and ignored; unroutable ones kept as unroutable', async () => {
    const ignored = await postRetell(
      server.url,
      retellEvent('transcript_updated', { call_id: unique('c'), agent_id: co.agentId }),
    );
    expect(ignored.status).toBe(202);
    const ping = await postCalcom(
      server.url,
      { triggerEvent: 'PING', createdAt: new Date().toISOString(), payload: {} },
      { endpoint: co.calcomEndpointId },
    );
    expect(ping.status).toBe(202);
    const lost = await postRetell(
      server.url,
      retellEvent('call_started', {
        call_id: unique('c'),
        agent_id: 'agent_nobody',
        to_number: '+4930999999',
      }),
    );
    const lostId = ((await lost.json()) as { id: string }).id;
    const ignoredId = ((await ignored.json()) as { id: string }).id;
    const pingId = ((await ping.json()) as { id: string }).id;
    await waitFor(async () => {
      const rows = await t.superuser('webhook_events').whereIn('id', [lostId, ignoredId, pingId]);
      return rows.every((r: { status: string }) => !['pending', 'processing'].includes(r.status))
        ? rows
        : undefined;
    });
    const byId = async (id: string) => t.superuser('webhook_events').where({ id }).first();
    expect(await byId(ignoredId)).toMatchObject({
      status: 'ignored',
      resolved_company_id: co.companyId,
    });
    // Delivered on the company's own endpoint: the ignored event is that company's.
    expect(await byId(pingId)).toMatchObject({
      status: 'ignored',
      resolved_company_id: co.companyId,
    });
    expect(await byId(lostId)).toMatchObject({ status: 'unroutable', resolved_company_id: null });
    expect((await byId(lostId)).last_error).toMatch(/no company has agent agent_nobody/);
    expect(
      await metricValue('app_webhook_events_processed_total', {
        provider: 'retell',
        outcome: 'unroutable',
      }),
    ).toBe(1);
  });

  test('Cal.com: the company endpoint accepts its secret; the shared URL accepts nothing', async () => {
    const body = calcomEvent('MEETING_ENDED', { uid: unique('m') });
    const res = await postCalcom(server.url, body, {
      secret: CALCOM_SECRET,
      endpoint: co.calcomEndpointId,
    });
    expect(res.status).toBe(202);
    const shared = await postCalcom(server.url, body, { secret: CALCOM_SECRET });
    expect(shared.status).toBe(401);
  });
});

describe('monitor through the server’s own authentication', () => {
  const token = async (claims: Parameters<typeof accessTokenFor>[2]) =>
    accessTokenFor(t.superuser, server.deps.config.jwtSecret, claims);
  const monitor = (bearer?: string, companyId?: string) =>
    fetch(`${server.url}/api/webhooks/monitor`, {
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(companyId ? { 'x-company-id': companyId } : {}),
      },
    });

  test('anonymous 401, a bad token 401, a staff member 403', async () => {
    expect((await monitor()).status).toBe(401);
    expect((await monitor('not-a-token')).status).toBe(401);
    const staff = await token({
      sub: randomUUID(),
      typ: 'user',
      cid: co.companyId,
      roles: ['staff'],
    });
    expect((await monitor(staff)).status).toBe(403);
  });

  test('a company admin gets their company’s counts; a super admin everything', async () => {
    const admin = await token({
      sub: randomUUID(),
      typ: 'user',
      cid: co.companyId,
      roles: ['admin'],
    });
    const res = await monitor(admin);
    expect(res.status).toBe(200);
    const stats = (await res.json()) as {
      scope: string;
      companyId: string;
      totals: Record<string, number>;
    };
    expect(stats).toMatchObject({ scope: 'company', companyId: co.companyId });
    expect(stats.totals.processed).toBeGreaterThan(0);
    expect(stats.totals.unroutable).toBe(0);
    const superAdmin = await token({ sub: randomUUID(), typ: 'platform_admin' });
    const all = (await (await monitor(superAdmin)).json()) as {
      scope: string;
      totals: Record<string, number>;
    };
    expect(all.scope).toBe('platform');
    expect(all.totals.unroutable).toBeGreaterThan(0);
    // A super admin who names a company sees that company only.
    const chosen = (await (await monitor(superAdmin, co.companyId)).json()) as {
      scope: string;
      companyId: string;
      totals: Record<string, number>;
    };
    expect(chosen).toMatchObject({ scope: 'company', companyId: co.companyId });
    expect(chosen.totals.unroutable).toBe(0);
  });

  test('an admin naming another company is refused with 403', async () => {
    const admin = await token({
      sub: randomUUID(),
      typ: 'user',
      cid: co.companyId,
      roles: ['admin'],
    });
    expect((await monitor(admin, randomUUID())).status).toBe(403);
  });
});
