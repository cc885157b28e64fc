import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import type { AppDeps } from '../../src/context/deps';
import { WebhookWorker } from '../../src/webhooks/worker';
import {
  makeDeps,
  postRetell,
  retellEvent,
  seedCompany,
  startWebhookApp,
  unique,
  type SeededCompany,
} from './helpers';

/**
 * The worker's group path: a company's Retell call events of one batch applied together with
 * set-based statements, falling back to one event at a time when the group fails. Events are
 * stored through the signed HTTP endpoint and applied by workers driven by hand.
 */
let t: TestDatabase;
let deps: AppDeps;
let app: Awaited<ReturnType<typeof startWebhookApp>>;
let a: SeededCompany;
let b: SeededCompany;

beforeAll(async () => {
  t = await createTestDatabase();
  deps = makeDeps(t.db);
  app = await startWebhookApp(deps);
  a = await seedCompany(t.superuser);
  b = await seedCompany(t.superuser);
});
afterAll(async () => {
  await app?.close();
  await t.drop();
});

type Stage = 'call_started' | 'call_ended' | 'call_analyzed';

async function deliver(
  co: SeededCompany,
  event: Stage,
  callId: string,
  extra: Record<string, unknown> = {},
  expected = 202,
): Promise<string> {
  const res = await postRetell(
    app.url,
    retellEvent(event, { call_id: callId, agent_id: co.agentId, to_number: co.number, ...extra }),
  );
  expect(res.status).toBe(expected);
  return ((await res.json()) as { id: string }).id;
}

interface EventRow {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  locked_by: string | null;
}

const events = (ids: string[]) =>
  t.superuser('webhook_events').whereIn('id', ids).select<EventRow[]>('*');

const callRows = (co: SeededCompany, callIds: string[]) =>
  t
    .superuser('calls')
    .where({ company_id: co.companyId })
    .whereIn('retell_call_id', callIds)
    .orderBy('retell_call_id');

async function callsReceived(): Promise<number> {
  const metric = await deps.metrics.callsReceived.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

/** Everything of a call row the events decide (not its ids or bookkeeping times). */
function applied(row: Record<string, unknown>): Record<string, unknown> {
  const {
    id: _id,
    retell_call_id: _rid,
    created_at: _c,
    updated_at: _u,
    ...rest
  } = row as Record<string, unknown>;
  return rest;
}

test('a group with a poisoned event: the others are applied once, the poisoned one fails alone', async () => {
  const good = Array.from({ length: 5 }, () => unique('grp'));
  const ids: string[] = [];
  for (const callId of good) {
    ids.push(await deliver(a, 'call_started', callId));
    ids.push(await deliver(a, 'call_ended', callId));
  }
  // Stored fine (its dedupe key is hashed) but too long for the calls index: the group's insert
  // fails, and the event again on its own.
  const poisoned = await deliver(a, 'call_started', `poison-${randomBytes(6000).toString('hex')}`);
  // Without a call id: refused before anything is written, permanently.
  const noCallId = await deliver(a, 'call_ended', '');
  const before = await callsReceived();

  const worker = new WebhookWorker(deps, {
    workerId: 'grouped',
    batchSize: 100,
    backoffBaseMs: 60_000,
  });
  expect(await worker.drain()).toBe(12);
  // The group failed as a whole and was applied again one event at a time.
  expect(worker.groupStats.groupsFallenBack).toBe(1);

  const rows = await events([...ids, poisoned, noCallId]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of ids) {
    expect(byId.get(id)).toMatchObject({ status: 'processed', attempts: 1, locked_by: null });
  }
  expect(byId.get(poisoned)).toMatchObject({ status: 'failed', attempts: 1, locked_by: null });
  expect(byId.get(poisoned)!.last_error).toMatch(/index row|exceeds/i);
  expect(byId.get(noCallId)).toMatchObject({ status: 'dead', locked_by: null });
  expect(byId.get(noCallId)!.last_error).toMatch(/call_id/);

  // Each good call once, each event's effect once, no call of the poisoned event.
  const calls = await callRows(a, good);
  expect(calls).toHaveLength(5);
  for (const call of calls) {
    expect(call).toMatchObject({ status: 'ended', duration_ms: 95_000 });
    expect(call.metadata.retell.events).toEqual(['call_started', 'call_ended']);
  }
  expect(await callsReceived()).toBe(before + 5);
  expect(
    await t
      .superuser('calls')
      .where({ company_id: a.companyId })
      .where('retell_call_id', 'like', 'poison-%'),
  ).toHaveLength(0);

  // Delivered again: known (200, the stored event), nothing applied twice.
  const again = await deliver(a, 'call_ended', good[0], {}, 200);
  expect(again).toBe(ids[1]);
  expect(await worker.drain()).toBe(0);
  expect(await callRows(a, good)).toHaveLength(5);
});

test('events of one call in one group are folded in order, the same as one at a time', async () => {
  const stages: Stage[] = ['call_started', 'call_ended', 'call_analyzed'];
  const together = unique('fold');
  const alone = unique('fold');
  const lateTogether = unique('late');
  const lateAlone = unique('late');
  // The caller is a known customer: the call is linked to them.
  const caller = { from_number: a.customerPhone };
  for (const stage of stages) await deliver(a, stage, together, caller);
  // Out of order: analysed first, started last; an earlier stage never overwrites a later one.
  for (const stage of [...stages].reverse()) await deliver(a, stage, lateTogether, caller);

  const grouped = new WebhookWorker(deps, { workerId: 'fold-grouped', batchSize: 100 });
  expect(await grouped.drain()).toBe(6);
  expect(grouped.groupStats).toEqual({ eventsTogether: 6, groupsFallenBack: 0 });

  for (const stage of stages) await deliver(a, stage, alone, caller);
  for (const stage of [...stages].reverse()) await deliver(a, stage, lateAlone, caller);
  // One event per batch: each in its own transaction, the path the group must match.
  const single = new WebhookWorker(deps, { workerId: 'fold-single', batchSize: 1 });
  expect(await single.drain()).toBe(6);
  expect(single.groupStats.eventsTogether).toBe(0);

  const [rowTogether] = await callRows(a, [together]);
  const [rowAlone] = await callRows(a, [alone]);
  expect(rowTogether).toMatchObject({
    status: 'ended',
    customer_id: a.customerId,
    retell_agent_id: a.retellAgentRowId,
    phone_number_id: a.phoneNumberId,
    summary: 'Caller booked a haircut.',
    sentiment: 'positive',
    cost_cents: 123,
  });
  expect(rowTogether.metadata.retell).toMatchObject({ stage: 3, events: stages });
  expect(applied(rowTogether)).toEqual(applied(rowAlone));

  const [lateRowTogether] = await callRows(a, [lateTogether]);
  const [lateRowAlone] = await callRows(a, [lateAlone]);
  expect(lateRowTogether).toMatchObject({ status: 'ended', customer_id: a.customerId });
  expect(lateRowTogether.metadata.retell.stage).toBe(3);
  expect(applied(lateRowTogether)).toEqual(applied(lateRowAlone));
});

test('two workers on one backlog of two companies: every event applied exactly once', async () => {
  const perCompany = 40;
  const ids: string[] = [];
  const callIds = new Map<SeededCompany, string[]>([
    [a, []],
    [b, []],
  ]);
  const posts: Promise<string>[] = [];
  for (const co of [a, b]) {
    for (let i = 0; i < perCompany; i++) {
      const callId = unique('pair');
      callIds.get(co)!.push(callId);
      posts.push(deliver(co, 'call_started', callId));
      posts.push(deliver(co, 'call_ended', callId));
    }
  }
  ids.push(...(await Promise.all(posts)));
  const before = await callsReceived();

  const workers = ['pair-1', 'pair-2'].map(
    (workerId) => new WebhookWorker(deps, { workerId, batchSize: 30, concurrency: 2 }),
  );
  const counts = await Promise.all(workers.map((w) => w.drain()));
  // Both took part, and between them claimed each event once.
  expect(counts.every((n) => n > 0)).toBe(true);
  expect(counts[0] + counts[1]).toBe(ids.length);
  expect(
    workers[0].groupStats.eventsTogether + workers[1].groupStats.eventsTogether,
  ).toBeGreaterThan(0);

  const rows = await events(ids);
  expect(rows).toHaveLength(ids.length);
  for (const row of rows) {
    expect(row).toMatchObject({ status: 'processed', attempts: 1, locked_by: null });
  }
  for (const co of [a, b]) {
    const calls = await callRows(co, callIds.get(co)!);
    expect(calls).toHaveLength(perCompany);
    for (const call of calls) {
      expect(call.status).toBe('ended');
      expect([...call.metadata.retell.events].sort()).toEqual(['call_ended', 'call_started']);
    }
  }
  expect(await callsReceived()).toBe(before + 2 * perCompany);
});
