import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { testConfig } from '../../src/config';
import type { Actor } from '../../src/context/actor';
import { runInContext } from '../../src/context/request-context';
import { openDatabase } from '../../src/db/database';
import { createMetrics } from '../../src/observability/metrics';
import { bookAppointment } from '../../src/scheduling';
import { accessTokenFor } from '../helpers/access-token';
import { startTestServer, type TestServer } from '../helpers/server';
import { createWorld, globalId, type World } from '../helpers/world';
import { sleep, subscribe, until, type Received } from './helpers';

const DAY = 86_400_000;
let slot = 0;
/** A free start inside the seeded working hours (09:00–17:00 Berlin), a different one each time. */
const nextStart = () => {
  slot += 1;
  const d = new Date(Date.now() + (10 + Math.floor(slot / 4)) * DAY);
  d.setUTCHours(8, 0, 0, 0);
  return new Date(d.getTime() + (slot % 4) * 90 * 60_000);
};

const APPOINTMENTS = `subscription($staffId: ID) {
  appointmentChanged(staffId: $staffId) { action appointment { id status staff { id } customer { name } } }
}`;
const BOOK = `mutation($s: ID!, $st: ID, $t: DateTime!, $c: ID) {
  bookAppointment(input: { serviceId: $s, staffId: $st, startsAt: $t, customerId: $c }) { appointment { id } }
}`;

let s: TestServer;
let w: World;
const open: Received[] = [];

beforeAll(async () => {
  s = await startTestServer({
    subscriptions: {
      ...testConfig().subscriptions,
      recheckMs: 200,
      maxSocketsPerToken: 3,
    },
  });
  w = await createWorld(s);
  // The second staff member of company A offers the service and works the same hours.
  const db = s.t.superuser;
  await db('staff_services').insert({
    company_id: w.a.id,
    staff_id: w.a.otherStaffId,
    service_id: w.a.serviceId,
  });
  await db('working_hours').insert(
    [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({
      company_id: w.a.id,
      staff_id: w.a.otherStaffId,
      branch_id: w.a.branchId,
      weekday,
      starts_at: '09:00',
      ends_at: '17:00',
    })),
  );
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.dispose()));
});

afterAll(async () => {
  await s?.close();
});

async function listen(
  token: string | undefined,
  query = APPOINTMENTS,
  variables?: Record<string, unknown>,
  url = s.url,
): Promise<Received> {
  const r = subscribe(url, token ? { authorization: `Bearer ${token}` } : {}, query, variables);
  open.push(r);
  await r.connected;
  // Let the subscribe message reach the server and the subscription register on the bus.
  await sleep(150);
  return r;
}

async function bookInA(token: string, staffId = w.a.staffId, server: TestServer = s) {
  const res = await server.gql(
    BOOK,
    {
      s: globalId('Service', w.a.id, w.a.serviceId),
      st: globalId('Staff', w.a.id, staffId),
      t: nextStart().toISOString(),
      c: globalId('Customer', w.a.id, w.a.customerId),
    },
    { token },
  );
  expect(res.errors).toBeUndefined();
  return res.data?.bookAppointment.appointment.id as string;
}

const filtered = async (reason: string) =>
  (await s.server.deps.metrics.liveEventsFiltered.get()).values.find(
    (v) => v.labels.reason === reason,
  )?.value ?? 0;

describe('GraphQL subscriptions over graphql-ws', () => {
  test('each company sees only its own events; the other company receives nothing, counted', async () => {
    const adminA = await w.login(w.a.users.admin.email);
    const adminB = await w.login(w.b.users.admin.email);
    const a = await listen(adminA);
    const b = await listen(adminB);
    const before = await filtered('other_company');
    const id = await bookInA(adminA);
    await until(() => a.data.length === 1);
    expect(a.data[0].appointmentChanged).toMatchObject({
      action: 'CREATED',
      appointment: { id, status: 'SCHEDULED', customer: { name: 'Customer alpha' } },
    });
    await sleep(200);
    expect(b.data).toEqual([]);
    expect(b.errors).toEqual([]);
    expect(await filtered('other_company')).toBeGreaterThan(before);
  });

  test('staff users receive only their own appointments', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const staff = await w.login(w.a.users.staff.email);
    const mine = await listen(staff);
    await bookInA(admin, w.a.otherStaffId);
    const own = await bookInA(admin, w.a.staffId);
    await until(() => mine.data.length >= 1);
    await sleep(200);
    expect(mine.data.map((d) => d.appointmentChanged.appointment.id)).toEqual([own]);
  });

  test('a cancellation and a reschedule are delivered as such', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const sub = await listen(admin);
    const id = await bookInA(admin);
    const cancelled = await s.gql(
      'mutation($id: ID!) { cancelAppointment(id: $id) { appointment { status } } }',
      { id },
      { token: admin },
    );
    expect(cancelled.errors).toBeUndefined();
    const moved = await bookInA(admin);
    const res = await s.gql(
      'mutation($id: ID!, $t: DateTime!) { rescheduleAppointment(id: $id, input: { startsAt: $t }) { appointment { id } } }',
      { id: moved, t: nextStart().toISOString() },
      { token: admin },
    );
    expect(res.errors).toBeUndefined();
    await until(() => sub.data.length >= 5);
    await sleep(150);
    expect(
      sub.data.map((d) => [d.appointmentChanged.action, d.appointmentChanged.appointment.id]),
    ).toEqual([
      ['CREATED', id],
      ['CANCELLED', id],
      ['CREATED', moved],
      ['RESCHEDULED', moved],
      ['CREATED', res.data?.rescheduleAppointment.appointment.id],
    ]);
  });

  test('the staff filter argument narrows what an admin receives', async () => {
    const admin = await w.login(w.a.users.manager.email);
    const sub = await listen(admin, APPOINTMENTS, {
      staffId: globalId('Staff', w.a.id, w.a.otherStaffId),
    });
    await bookInA(admin, w.a.staffId);
    const other = await bookInA(admin, w.a.otherStaffId);
    await until(() => sub.data.length >= 1);
    await sleep(150);
    expect(sub.data.map((d) => d.appointmentChanged.appointment.id)).toEqual([other]);
  });

  test("another company's staff id (as unknown) or a malformed one is refused, naming the argument", async () => {
    const admin = await w.login(w.a.users.admin.email);
    for (const [staffId, code] of [
      [globalId('Staff', w.b.id, w.b.staffId), 'NOT_FOUND'],
      ['not-an-id', 'BAD_USER_INPUT'],
    ]) {
      const sub = await listen(admin, APPOINTMENTS, { staffId });
      await until(() => sub.errors.length > 0);
      expect(sub.errors[0].extensions).toMatchObject({ code, field: 'staffId' });
      expect(JSON.stringify(sub.errors)).not.toContain(w.b.staffId);
    }
  });

  test('work that rolled back is never sent; a system-actor booking is', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const sub = await listen(admin);
    const voice: Actor = { kind: 'system', name: 'voice_agent' };
    const init = { deps: s.server.deps, actor: voice, companyId: w.a.id };
    const input = () => ({
      serviceId: w.a.serviceId,
      staffId: w.a.staffId,
      customerId: w.a.customerId,
      source: 'phone' as const,
      startsAt: nextStart(),
    });
    // The whole unit rolls back.
    await expect(
      runInContext(init, async (ctx) => {
        await bookAppointment(ctx, input());
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    // A savepoint inside a committed unit rolls back.
    const kept = await runInContext(init, async (ctx) => {
      await ctx
        .unitOfWork(async () => {
          await bookAppointment(ctx, input());
          throw new Error('inner step failed');
        })
        .catch(() => undefined);
      return (await bookAppointment(ctx, input())).appointment.id;
    });
    await until(() => sub.data.length >= 1);
    await sleep(200);
    expect(sub.data.map((d) => d.appointmentChanged.appointment.id)).toEqual([
      globalId('Appointment', w.a.id, kept),
    ]);
    const rows = await s.t.superuser('appointments').where({ company_id: w.a.id }).count();
    expect(Number(rows[0].count)).toBeGreaterThan(0);
  });

  test('a mutation field that fails after booking sends nothing', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const sub = await listen(admin);
    const t = nextStart().toISOString();
    // The same slot twice in one request: the second field fails on the conflict and rolls back;
    // the first committed and is the only event.
    const res = await s.gql(
      `mutation($s: ID!, $st: ID, $t: DateTime!, $c: ID) {
        first: bookAppointment(input: { serviceId: $s, staffId: $st, startsAt: $t, customerId: $c }) { appointment { id } }
        second: bookAppointment(input: { serviceId: $s, staffId: $st, startsAt: $t, customerId: $c }) { appointment { id } }
      }`,
      {
        s: globalId('Service', w.a.id, w.a.serviceId),
        st: globalId('Staff', w.a.id, w.a.staffId),
        t,
        c: globalId('Customer', w.a.id, w.a.customerId),
      },
      { token: admin },
    );
    expect(res.data?.second).toBeNull();
    await until(() => sub.data.length >= 1);
    await sleep(200);
    expect(sub.data.map((d) => d.appointmentChanged.appointment.id)).toEqual([
      res.data?.first.appointment.id,
    ]);
  });

  test('callbackRequested and dashboardChanged follow a callback request', async () => {
    const manager = await w.login(w.a.users.manager.email);
    const callbacks = await listen(
      manager,
      'subscription { callbackRequested { action callbackRequest { id name } } }',
    );
    const dashboard = await listen(
      manager,
      'subscription { dashboardChanged { reason action changedAt } }',
    );
    const res = await s.gql(
      'mutation { createCallbackRequest(input: { phone: "+4915111122233", name: "Ida" }) { id } }',
      undefined,
      { token: manager },
    );
    expect(res.errors).toBeUndefined();
    await until(() => callbacks.data.length === 1 && dashboard.data.length === 1);
    expect(callbacks.data[0].callbackRequested).toMatchObject({
      action: 'CREATED',
      callbackRequest: { id: res.data?.createCallbackRequest.id },
    });
    expect(dashboard.data[0].dashboardChanged).toMatchObject({
      reason: 'CALLBACK',
      action: 'CREATED',
    });
  });

  test('the shield applies: staff may not watch calls; an API token needs the read scope', async () => {
    const staff = await w.login(w.a.users.staff.email);
    const calls = await listen(staff, 'subscription { callChanged { action call { id } } }');
    await until(() => calls.errors.length > 0);
    expect(calls.errors[0].extensions?.code).toBe('FORBIDDEN');

    const admin = await w.login(w.a.users.admin.email);
    const created = await s.gql(
      'mutation { createApiToken(input: { name: "crm", scopes: ["customers:read"] }) { token } }',
      undefined,
      { token: admin },
    );
    const narrow = await listen(created.data?.createApiToken.token as string);
    await until(() => narrow.errors.length > 0);
    expect(narrow.errors[0].extensions?.code).toBe('FORBIDDEN');
  });

  test('no token, a bad token, and queries over the socket are refused', async () => {
    const anonymous = subscribe(s.url, {}, APPOINTMENTS);
    open.push(anonymous);
    await until(() => anonymous.closed !== undefined);
    expect(anonymous.closed).toBe(4401);

    const forged = subscribe(s.url, { authorization: 'Bearer not-a-token' }, APPOINTMENTS);
    open.push(forged);
    await until(() => forged.closed !== undefined);
    expect(forged.closed).toBe(4401);

    const admin = await w.login(w.a.users.admin.email);
    const query = await listen(admin, '{ me { id } }');
    await until(() => query.errors.length > 0);
    expect(query.errors[0].message).toMatch(/Only subscriptions/);
  });

  test('the document limits of HTTP hold over the socket', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: action`).join(' ');
    const wide = await listen(admin, `subscription { appointmentChanged { ${aliases} } }`);
    await until(() => wide.errors.length > 0);
    expect(wide.errors[0]).toMatchObject({
      message: 'Aliases limit of 30 exceeded, found 40.',
      extensions: { code: 'QUERY_LIMIT_EXCEEDED' },
    });
    expect(wide.closed).toBeUndefined();
  });

  test('a revoked API token and an ended session close their sockets', async () => {
    const admin = await w.login(w.a.users.admin.email);
    const created = await s.gql(
      'mutation { createApiToken(input: { name: "board", scopes: ["appointments:read"] }) { token apiToken { id } } }',
      undefined,
      { token: admin },
    );
    const token = created.data?.createApiToken.token as string;
    const sub = await listen(token);
    // The token is re-checked every 200 ms: a live token keeps its socket.
    await sleep(500);
    expect(sub.closed).toBeUndefined();
    const revoked = await s.gql(
      'mutation($id: ID!) { revokeApiToken(id: $id) { id } }',
      { id: created.data?.createApiToken.apiToken.id },
      { token: admin },
    );
    expect(revoked.errors).toBeUndefined();
    await until(() => sub.closed !== undefined, 3000);
    expect(sub.closed).toBe(4401);

    const res = await s.gql(
      'mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }',
      { e: w.a.users.manager.email, p: 'correct-horse-battery' },
    );
    const session = res.data?.login.accessToken as string;
    expect(session).toEqual(expect.any(String));
    const watched = await listen(session);
    await sleep(300);
    expect(watched.closed).toBeUndefined();
    const out = await s.gql('mutation { logout }', undefined, { token: session });
    expect(out.errors).toBeUndefined();
    await until(() => watched.closed !== undefined, 3000);
    expect(watched.closed).toBe(4401);
  });

  test('a suspended company closes its sockets with 4403; a role change asks to reconnect', async () => {
    const manager = await w.login(w.b.users.manager.email);
    const staff = await w.login(w.b.users.staff.email);
    const suspended = await listen(manager);
    const demoted = await listen(staff);
    await sleep(300);
    expect(suspended.closed).toBeUndefined();
    expect(demoted.closed).toBeUndefined();
    await s.t
      .superuser('users')
      .where({ id: w.b.users.staff.id })
      .update({ roles: ['manager'] });
    await until(() => demoted.closed !== undefined, 3000);
    expect(demoted.closed).toBe(4403);
    await s.t.superuser('companies').where({ id: w.b.id }).update({ suspended_at: new Date() });
    try {
      await until(() => suspended.closed !== undefined, 3000);
      expect(suspended.closed).toBe(4403);
    } finally {
      await s.t.superuser('companies').where({ id: w.b.id }).update({ suspended_at: null });
      await s.t
        .superuser('users')
        .where({ id: w.b.users.staff.id })
        .update({ roles: ['staff'] });
    }
  });

  test('an access token that expires closes its socket with 4401', async () => {
    const token = await accessTokenFor(
      s.t.superuser,
      s.server.deps.config.jwtSecret,
      { sub: randomUUID(), typ: 'user', cid: w.a.id, roles: ['admin'] },
      2,
    );
    const sub = await listen(token);
    expect(sub.closed).toBeUndefined();
    await until(() => sub.closed !== undefined, 5000);
    expect(sub.closed).toBe(4401);
  });

  test('a super admin subscribes in the company it chose, and in none without a choice', async () => {
    const root = await w.login(w.superAdmin.email);
    const none = await listen(root);
    await until(() => none.errors.length > 0);
    expect(none.errors[0].extensions?.code).toBe('FORBIDDEN');

    const chosen = subscribe(
      s.url,
      { authorization: `Bearer ${root}`, companyId: w.a.id },
      APPOINTMENTS,
    );
    open.push(chosen);
    await chosen.connected;
    await sleep(150);
    const id = await bookInA(await w.login(w.a.users.admin.email));
    await until(() => chosen.data.length === 1);
    expect(chosen.data[0].appointmentChanged.appointment.id).toBe(id);
  });

  test('sockets per token are capped', async () => {
    const manager = await w.login(w.b.users.manager.email);
    const subs = [await listen(manager), await listen(manager), await listen(manager)];
    const extra = subscribe(s.url, { authorization: `Bearer ${manager}` }, APPOINTMENTS);
    open.push(extra);
    await until(() => extra.closed !== undefined);
    expect(extra.closed).toBe(4429);
    expect(subs.every((r) => r.closed === undefined)).toBe(true);
  });

  test('two server processes on one database deliver each other’s events', async () => {
    const second = await startServer({
      config: testConfig({ port: 0, host: '127.0.0.1', databaseUrl: s.t.url }),
      db: await openDatabase({ url: s.t.url, poolMax: 4 }),
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
    });
    try {
      expect(second.deps.live?.transport).toBe('postgres');
      const admin = await w.login(w.a.users.admin.email);
      const remote = await listen(admin, APPOINTMENTS, undefined, second.url);
      const local = await listen(admin);
      const id = await bookInA(admin);
      await until(() => remote.data.length === 1 && local.data.length === 1);
      expect(remote.data[0].appointmentChanged.appointment.id).toBe(id);
    } finally {
      await Promise.all(open.splice(0).map((r) => r.dispose()));
      await closeQuietly(second);
    }
  });
});

async function closeQuietly(server: AppServer): Promise<void> {
  await server.close().catch(() => undefined);
}
