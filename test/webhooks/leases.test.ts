import type { Knex } from 'knex';
import { adminKnex, createTestDatabase, type TestDatabase } from '../helpers/pg';
import type { AppDeps } from '../../src/context/deps';
import { WebhookWorker } from '../../src/webhooks/worker';
import {
  makeDeps,
  postRetell,
  retellEvent,
  seedCompany,
  startWebhookApp,
  unique,
  waitFor,
  type SeededCompany,
} from './helpers';

/**
 * Short leases kept alive by a heartbeat, events handed back on a graceful stop and after the
 * database dropped the worker's connection, and counters that say what the database says.
 */
let t: TestDatabase;
let deps: AppDeps;
let app: Awaited<ReturnType<typeof startWebhookApp>>;
let a: SeededCompany;
/** A second superuser connection, for the transactions that hold locks. */
let locker: Knex;

beforeAll(async () => {
  t = await createTestDatabase();
  locker = adminKnex(t.name);
  deps = makeDeps(t.db);
  a = await seedCompany(t.superuser);
  app = await startWebhookApp(deps);
});
afterAll(async () => {
  await app?.close();
  await locker?.destroy();
  await t.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const eventRow = (id: string) => t.superuser('webhook_events').where({ id }).first();

async function deliver(callId = unique('call')) {
  const res = await postRetell(
    app.url,
    retellEvent('call_started', { call_id: callId, agent_id: a.agentId, to_number: a.number }),
  );
  expect(res.status).toBe(202);
  return { id: ((await res.json()) as { id: string }).id, callId };
}

/** Holds the call's unique key in an open transaction: the worker's insert of it waits. */
async function blockCall(callId: string): Promise<Knex.Transaction> {
  const trx = await locker.transaction();
  await trx('calls').insert({ company_id: a.companyId, retell_call_id: callId });
  return trx;
}

/** The backend of the worker's transaction waiting on the blocker. */
async function waitingBackend(): Promise<number> {
  return waitFor(async () => {
    const { rows } = await t.superuser.raw<{ rows: { pid: number }[] }>(
      `select pid from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
    );
    return rows[0]?.pid;
  });
}

function outcomes(): Promise<Record<string, number>> {
  return deps.metrics.registry
    .getSingleMetric('app_webhook_events_processed_total')!
    .get()
    .then((m) =>
      Object.fromEntries(m.values.map((v) => [String(v.labels.outcome), Number(v.value)])),
    );
}

test('the heartbeat keeps the lease of an event still being applied: no other worker takes it', async () => {
  const { id, callId } = await deliver();
  const blocker = await blockCall(callId);
  const slow = new WebhookWorker(deps, { workerId: 'slow-heart', leaseMs: 600 });
  const run = slow.drain();
  await waitingBackend();
  // Three leases long: without the heartbeat the lease would have run out twice.
  const rival = new WebhookWorker(deps, { workerId: 'rival' });
  for (let i = 0; i < 6; i++) {
    await sleep(300);
    expect(await rival.drain()).toBe(0);
    const row = await eventRow(id);
    expect(row).toMatchObject({ status: 'processing', locked_by: 'slow-heart', attempts: 1 });
    expect(new Date(row.locked_until).getTime()).toBeGreaterThan(Date.now());
  }
  await blocker.rollback();
  await run;
  expect(await eventRow(id)).toMatchObject({ status: 'processed', attempts: 1, locked_by: null });
  expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);
  expect(slow.heldEventIds).toEqual([]);
});

test('a graceful stop hands back the claimed events it did not start: due at once, attempt not counted', async () => {
  const first = await deliver();
  const rest = await Promise.all(Array.from({ length: 5 }, () => deliver()));
  const blocker = await blockCall(first.callId);
  const worker = new WebhookWorker(deps, {
    workerId: 'stopping',
    concurrency: 1,
    groupSize: 1,
    pollIntervalMs: 60_000,
  });
  worker.start();
  await waitingBackend();
  const stopped = worker.stop();
  await sleep(100);
  await blocker.rollback();
  await stopped;

  expect(await eventRow(first.id)).toMatchObject({ status: 'processed', attempts: 1 });
  const ids = rest.map((r) => r.id);
  const rows = await t.superuser('webhook_events').whereIn('id', ids);
  // Nothing waits for a lease to run out.
  expect(rows.filter((r) => r.status === 'processing')).toEqual([]);
  for (const row of rows) {
    if (row.status === 'pending') {
      expect(row).toMatchObject({ attempts: 0, locked_by: null });
      expect(new Date(row.next_attempt_at).getTime()).toBeLessThanOrEqual(Date.now());
    } else {
      expect(row.status).toBe('processed');
    }
  }
  expect(rows.some((r) => r.status === 'pending')).toBe(true);
  // Another worker takes them now.
  const next = new WebhookWorker(deps, { workerId: 'next' });
  await next.drain();
  const after = await t.superuser('webhook_events').whereIn('id', ids);
  expect(after.map((r) => r.status)).toEqual(ids.map(() => 'processed'));
  expect(after.every((r) => r.attempts === 1)).toBe(true);
});

test('the database drops the connection mid-event: the event is handed back and re-applied at once, counted as interrupted, never as failed', async () => {
  const before = await outcomes();
  const { id, callId } = await deliver();
  const blocker = await blockCall(callId);
  const worker = new WebhookWorker(deps, { workerId: 'blip', backoffBaseMs: 60_000 });
  const run = worker.drain();
  const pid = await waitingBackend();
  await t.superuser.raw('select pg_terminate_backend(?)', [pid]);
  await blocker.rollback();
  const started = Date.now();
  await run;
  expect(Date.now() - started).toBeLessThan(5000);
  expect(await eventRow(id)).toMatchObject({
    status: 'processed',
    attempts: 1,
    locked_by: null,
  });
  expect(await t.superuser('calls').where({ retell_call_id: callId })).toHaveLength(1);
  const after = await outcomes();
  expect((after.failed ?? 0) - (before.failed ?? 0)).toBe(0);
  expect((after.interrupted ?? 0) - (before.interrupted ?? 0)).toBe(1);
  expect((after.processed ?? 0) - (before.processed ?? 0)).toBe(1);
});

test('a batch applies many events of one company in groups, each exactly once', async () => {
  const calls = Array.from({ length: 30 }, () => unique('batch'));
  const ids: string[] = [];
  for (const callId of calls) ids.push((await deliver(callId)).id);
  const worker = new WebhookWorker(deps, { workerId: 'batcher', groupSize: 7, concurrency: 3 });
  await worker.drain();
  const rows = await t.superuser('webhook_events').whereIn('id', ids);
  expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'processed'));
  const applied = await t.superuser('calls').whereIn('retell_call_id', calls);
  expect(applied).toHaveLength(30);
});
