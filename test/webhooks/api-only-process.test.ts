import pino from 'pino';
import { startServer, type AppServer } from '../../src/app';
import { openDatabase } from '../../src/db/database';
import { createMetrics } from '../../src/observability/metrics';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  postRetell,
  retellEvent,
  seedCompany,
  unique,
  waitFor,
  webhookConfig,
  type SeededCompany,
} from './helpers';

/**
 * Ingest and applying split over processes: with WEBHOOK_WORKER_CONCURRENCY=0 a process stores
 * signed events and applies none; a process with a worker applies them, each once.
 */
let t: TestDatabase;
let co: SeededCompany;
const servers: AppServer[] = [];

async function start(webhookWorkerConcurrency: number): Promise<AppServer> {
  const server = await startServer({
    config: webhookConfig({
      host: '127.0.0.1',
      databaseUrl: t.url,
      retentionIntervalMs: 0,
      webhookWorkerConcurrency,
    }),
    db: await openDatabase({ url: t.url, poolMax: 5 }),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  t = await createTestDatabase();
  co = await seedCompany(t.superuser);
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await t.drop();
});

test('an API-only process stores events and applies none; a worker process applies each once', async () => {
  const api = await start(0);
  const callIds = Array.from({ length: 12 }, () => unique('call'));
  for (const callId of callIds) {
    const res = await postRetell(
      api.url,
      retellEvent('call_started', { call_id: callId, agent_id: co.agentId, to_number: co.number }),
    );
    expect(res.status).toBe(202);
  }
  // Stored durably, and still waiting: nothing in this process applies them.
  await new Promise((r) => setTimeout(r, 1500));
  const waiting = await t.superuser('webhook_events').where({ provider: 'retell' });
  expect(waiting).toHaveLength(12);
  expect(waiting.every((r: { status: string; attempts: number }) => r.attempts === 0)).toBe(true);
  expect(waiting.some((r: { status: string }) => r.status === 'processed')).toBe(false);
  expect(await t.superuser('calls').whereIn('retell_call_id', callIds)).toHaveLength(0);

  await start(2);
  const rows = await waitFor(async () => {
    const all = await t.superuser('webhook_events').where({ provider: 'retell' });
    return all.every((r: { status: string }) => r.status === 'processed') ? all : undefined;
  }, 20_000);
  expect(rows).toHaveLength(12);
  expect(rows.every((r: { attempts: number }) => r.attempts === 1)).toBe(true);
  expect(await t.superuser('calls').whereIn('retell_call_id', callIds)).toHaveLength(12);
});
