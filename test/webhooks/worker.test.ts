import type { Request } from 'express';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import type { Actor } from '../../src/context/actor';
import type { AppDeps } from '../../src/context/deps';
import { runInContext, type RequestContext } from '../../src/context/request-context';
import { claimWebhookEvents } from '../../src/webhooks/inbox';
import { listWebhookEvents, replayWebhookEvent, webhookStats } from '../../src/webhooks/service';
import { WebhookWorker } from '../../src/webhooks/worker';
import {
  calcomEvent,
  makeDeps,
  postCalcom,
  postRetell,
  retellEvent,
  seedCompany,
  startWebhookApp,
  unique,
  type SeededCompany,
} from './helpers';

/** The worker's guarantees (leases, retries, several workers) and the admin functions. */
let t: TestDatabase;
let deps: AppDeps;
let app: Awaited<ReturnType<typeof startWebhookApp>>;
let a: SeededCompany;
let b: SeededCompany;

const ADMIN_A = 'admin-a';
const ADMIN_B = 'admin-b';
const STAFF_A = 'staff-a';
const SUPER = 'super';
let actors: Record<string, Actor>;

beforeAll(async () => {
  t = await createTestDatabase();
  deps = makeDeps(t.db);
  a = await seedCompany(t.superuser);
  b = await seedCompany(t.superuser);
  actors = {
    [ADMIN_A]: {
      kind: 'user',
      userId: '00000000-0000-4000-8000-00000000000a',
      companyId: a.companyId,
      roles: ['admin'],
      staffId: null,
    },
    [ADMIN_B]: {
      kind: 'user',
      userId: '00000000-0000-4000-8000-00000000000b',
      companyId: b.companyId,
      roles: ['admin'],
      staffId: null,
    },
    [STAFF_A]: {
      kind: 'user',
      userId: '00000000-0000-4000-8000-0000000000aa',
      companyId: a.companyId,
      roles: ['staff'],
      staffId: null,
    },
    [SUPER]: { kind: 'platform_admin', adminId: '00000000-0000-4000-8000-000000000005' },
  };
  const authenticate = async (req: Request): Promise<Actor> => {
    const token = /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
    return (token && actors[token]) || { kind: 'anonymous' };
  };
  app = await startWebhookApp(deps, {
    authenticate,
    worker: { backoffBaseMs: 50, backoffMaxMs: 100, maxAttempts: 3 },
  });
});
afterAll(async () => {
  await app?.close();
  await t.drop();
});

async function deliver(co: SeededCompany, event = 'call_started', callId = unique('call')) {
  const res = await postRetell(
    app.url,
    retellEvent(event, { call_id: callId, agent_id: co.agentId, to_number: co.number }),
  );
  expect(res.status).toBe(202);
  return { id: ((await res.json()) as { id: string }).id, callId };
}

const eventRow = (id: string) => t.superuser('webhook_events').where({ id }).first();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function asActor<T>(token: string, fn: (ctx: RequestContext) => Promise<T>): Promise<T> {
  const actor = actors[token];
  return runInContext(
    { deps, actor, companyId: actor.kind === 'user' ? actor.companyId : null },
    fn,
  );
}

test('a worker killed mid-event: its lease runs out, another worker applies the event once', async () => {
  const { id, callId } = await deliver(a);
  // The dead worker claimed it with a short lease and never finished.
  const claimed = await claimWebhookEvents(t.db.platform, 'doomed-worker', 10, 1500);
  expect(claimed.map((e) => e.id)).toContain(id);
  expect(await eventRow(id)).toMatchObject({
    status: 'processing',
    locked_by: 'doomed-worker',
    attempts: 1,
  });

  const rescuer = new WebhookWorker(deps, { workerId: 'rescuer' });
  expect(await rescuer.drain()).toBe(0); // still leased
  await sleep(1600);
  expect(await rescuer.drain()).toBe(1);
  expect(await eventRow(id)).toMatchObject({ status: 'processed', attempts: 2, locked_by: null });
  expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);
});

test('a worker that lost its lease cannot commit its effect', async () => {
  const { id, callId } = await deliver(a);
  const slow = new WebhookWorker(deps, { workerId: 'slow', leaseMs: 200 });
  const [event] = (await claimWebhookEvents(t.db.platform, 'slow', 10, 200)).filter(
    (e) => e.id === id,
  );
  await sleep(250);
  // Meanwhile another worker reclaims and processes it.
  const fast = new WebhookWorker(deps, { workerId: 'fast' });
  expect(await fast.drain()).toBe(1);
  expect(await slow.process(event)).toBe('lost');
  const row = await eventRow(id);
  expect(row).toMatchObject({ status: 'processed', attempts: 2 });
  expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);
});

test('several workers at once claim disjoint events: each applied exactly once', async () => {
  const delivered = await Promise.all(Array.from({ length: 40 }, () => deliver(a)));
  const workers = Array.from(
    { length: 4 },
    (_, i) => new WebhookWorker(deps, { workerId: `w${i}`, batchSize: 5, concurrency: 2 }),
  );
  const counts = await Promise.all(workers.map((w) => w.drain()));
  expect(counts.reduce((x, y) => x + y, 0)).toBe(40);
  const rows = await t.superuser('webhook_events').whereIn(
    'id',
    delivered.map((d) => d.id),
  );
  expect(
    rows.every(
      (r: { status: string; attempts: number }) => r.status === 'processed' && r.attempts === 1,
    ),
  ).toBe(true);
  const calls = await t.superuser('calls').whereIn(
    'retell_call_id',
    delivered.map((d) => d.callId),
  );
  expect(calls).toHaveLength(40);
});

test('failures back off and end dead after the configured attempts; replay brings them back', async () => {
  // A Retell event whose company exists but whose effect fails: the call's agent id is routed,
  // but the stored payload is broken on purpose by an operator-only path (superuser).
  const { id } = await deliver(a);
  await t
    .superuser('webhook_events')
    .where({ id })
    .update({
      payload: JSON.stringify({
        event: 'call_started',
        call: { agent_id: a.agentId, call_id: 12 },
      }),
    });
  const w = app.worker;
  await w.drain();
  let row = await eventRow(id);
  expect(row).toMatchObject({ status: 'dead', attempts: 1 });
  expect(row.last_error).toMatch(/without call.call_id/);

  // A transient failure: the calls table refuses the runtime role for a moment.
  const { id: id2, callId } = await deliver(a);
  await t.superuser.raw('revoke insert on calls from app_runtime');
  try {
    await w.runOnce();
    row = await eventRow(id2);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(/permission denied/);
    await sleep(120);
    await w.runOnce();
    await sleep(150);
    await w.runOnce();
    row = await eventRow(id2);
    expect(row).toMatchObject({ status: 'dead', attempts: 3 });
  } finally {
    await t.superuser.raw('grant insert on calls to app_runtime');
  }
  expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(0);

  // Replayed by company A's admin: pending again, audited, then applied.
  const view = await asActor(ADMIN_A, (ctx) => replayWebhookEvent(ctx, id2));
  expect(view).toMatchObject({ id: id2, status: 'pending', attempts: 0, replayCount: 1 });
  const audit = await t
    .superuser('activity_logs')
    .where({ subject_id: id2, action: 'webhook_event.replayed' })
    .first();
  expect(audit).toMatchObject({
    company_id: a.companyId,
    actor_type: 'user',
    actor_id: actors[ADMIN_A].kind === 'user' ? actors[ADMIN_A].userId : null,
  });
  expect(audit.details).toMatchObject({ previousStatus: 'dead', provider: 'retell' });
  await w.drain();
  expect(await eventRow(id2)).toMatchObject({
    status: 'processed',
    last_replayed_by: `user:${(actors[ADMIN_A] as { userId: string }).userId}`,
  });
  expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);

  // Processed events cannot be replayed; another company's admin cannot even see it.
  await expect(asActor(ADMIN_A, (ctx) => replayWebhookEvent(ctx, id2))).rejects.toMatchObject({
    code: 'CONFLICT',
  });
  await expect(asActor(ADMIN_B, (ctx) => replayWebhookEvent(ctx, id))).rejects.toMatchObject({
    code: 'NOT_FOUND',
  });
  await expect(asActor(STAFF_A, (ctx) => replayWebhookEvent(ctx, id))).rejects.toMatchObject({
    code: 'FORBIDDEN',
  });
});

test('unroutable events: only a super admin sees and replays them', async () => {
  const res = await postCalcom(
    app.url,
    calcomEvent('BOOKING_CREATED', {
      uid: unique('bk'),
      eventTypeId: 777777,
      startTime: '2027-05-01T09:00:00.000Z',
      endTime: '2027-05-01T09:30:00.000Z',
    }),
    { endpoint: b.calcomEndpointId },
  );
  const { id } = (await res.json()) as { id: string };
  await app.worker.drain();
  expect(await eventRow(id)).toMatchObject({ status: 'unroutable' });

  const seenByA = await asActor(ADMIN_A, (ctx) => listWebhookEvents(ctx, { first: 100 }));
  expect(seenByA.edges.map((e) => e.node.id)).not.toContain(id);
  await expect(asActor(ADMIN_A, (ctx) => replayWebhookEvent(ctx, id))).rejects.toMatchObject({
    code: 'NOT_FOUND',
  });

  const seenBySuper = await asActor(SUPER, (ctx) =>
    listWebhookEvents(ctx, { unroutableOnly: true }),
  );
  expect(seenBySuper.edges.map((e) => e.node.id)).toContain(id);

  // The company maps the event type, the super admin replays, the booking lands.
  await t
    .superuser('team_event_type_mappings')
    .insert({ company_id: b.companyId, calcom_event_type_id: 777777, service_id: b.serviceId });
  const replayed = await asActor(SUPER, (ctx) => replayWebhookEvent(ctx, id));
  expect(replayed.status).toBe('pending');
  await app.worker.drain();
  expect(await eventRow(id)).toMatchObject({
    status: 'processed',
    resolved_company_id: b.companyId,
    replay_count: 1,
  });
  expect(await deps.metrics.tenantScopeBypasses.get()).toMatchObject({
    values: [expect.objectContaining({ value: 1 })],
  });
});

test('admins list and count only their own company; super admins everything', async () => {
  await deliver(b, 'call_started');
  await app.worker.drain();
  const listA = await asActor(ADMIN_A, (ctx) => listWebhookEvents(ctx, { first: 100 }));
  const listB = await asActor(ADMIN_B, (ctx) => listWebhookEvents(ctx, { first: 100 }));
  expect(listA.edges.length).toBeGreaterThan(0);
  expect(listA.edges.every((e) => e.node.companyId === a.companyId)).toBe(true);
  expect(listB.edges.every((e) => e.node.companyId === b.companyId)).toBe(true);
  await expect(
    asActor(ADMIN_A, (ctx) => listWebhookEvents(ctx, { companyId: b.companyId })),
  ).rejects.toMatchObject({ code: 'FORBIDDEN' });
  await expect(asActor(STAFF_A, (ctx) => listWebhookEvents(ctx))).rejects.toMatchObject({
    code: 'FORBIDDEN',
  });

  // Keyset pages cover everything exactly once.
  const seen: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await asActor(SUPER, (ctx) => listWebhookEvents(ctx, { first: 7, after }));
    seen.push(...page.edges.map((e) => e.node.id));
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  const total = Number((await t.superuser('webhook_events').count({ n: '*' }))[0].n);
  expect(new Set(seen).size).toBe(total);
  expect(seen).toHaveLength(total);
  const onlyB = await asActor(SUPER, (ctx) =>
    listWebhookEvents(ctx, { companyId: b.companyId, first: 100 }),
  );
  expect(onlyB.edges.every((e) => e.node.companyId === b.companyId)).toBe(true);

  const statsA = await asActor(ADMIN_A, (ctx) => webhookStats(ctx));
  const statsAll = await asActor(SUPER, (ctx) => webhookStats(ctx));
  expect(statsA.scope).toBe('company');
  const sumA = statsA.counts.reduce((n, c) => n + c.count, 0);
  const rowsA = Number(
    (
      await t
        .superuser('webhook_events')
        .where({ resolved_company_id: a.companyId })
        .count({ n: '*' })
    )[0].n,
  );
  expect(sumA).toBe(rowsA);
  expect(statsA.recentFailures.every((f) => f.companyId === a.companyId)).toBe(true);
  expect(statsAll.totals.processed).toBeGreaterThan(statsA.totals.processed);
});

describe('monitor endpoint', () => {
  const get = (token?: string) =>
    fetch(`${app.url}/api/webhooks/monitor`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  test('401 without credentials, 403 for non-admins', async () => {
    expect((await get()).status).toBe(401);
    expect((await get('nobody')).status).toBe(401);
    expect((await get(STAFF_A)).status).toBe(403);
  });

  test('an admin sees their company only; a super admin sees everything incl. unroutable', async () => {
    const resA = await get(ADMIN_A);
    expect(resA.status).toBe(200);
    const statsA = (await resA.json()) as {
      scope: string;
      companyId: string;
      totals: Record<string, number>;
      recentFailures: { companyId: string }[];
    };
    expect(statsA).toMatchObject({ scope: 'company', companyId: a.companyId });
    expect(statsA.totals.unroutable).toBe(0);
    expect(statsA.recentFailures.every((f) => f.companyId === a.companyId)).toBe(true);

    // A fresh unroutable event, visible to the super admin only.
    await postRetell(
      app.url,
      retellEvent('call_started', { call_id: unique('c'), agent_id: 'nobody-knows' }),
    );
    await app.worker.drain();
    const resSuper = await get(SUPER);
    const all = (await resSuper.json()) as {
      scope: string;
      totals: Record<string, number>;
      recentFailures: { status: string }[];
    };
    expect(all.scope).toBe('platform');
    expect(all.totals.unroutable).toBeGreaterThan(0);
    expect(all.recentFailures.some((f) => f.status === 'unroutable')).toBe(true);
    const resB = await get(ADMIN_B);
    const statsB = (await resB.json()) as { totals: Record<string, number> };
    expect(statsB.totals.unroutable).toBe(0);
  });
});
