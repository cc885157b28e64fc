import { randomUUID } from 'node:crypto';
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
 * Several stateless server processes on one database and one Redis, each with its own pool,
 * limiter connection and webhook worker: every event delivered to both (as a provider retrying on
 * another instance behind the load balancer) is stored once and applied exactly once, the workers
 * sharing the queue through SKIP LOCKED.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let t: TestDatabase;
const servers: AppServer[] = [];
let co: SeededCompany;

beforeAll(async () => {
  t = await createTestDatabase();
  co = await seedCompany(t.superuser);
  const prefix = `processes-test-${randomUUID()}`;
  for (let i = 0; i < 2; i++) {
    servers.push(
      await startServer({
        config: webhookConfig({
          host: '127.0.0.1',
          databaseUrl: t.url,
          redisUrl: REDIS_URL,
          redisKeyPrefix: prefix,
          retentionIntervalMs: 0,
        }),
        db: await openDatabase({ url: t.url, poolMax: 5 }),
        logger: pino({ level: 'silent' }),
        metrics: createMetrics(),
      }),
    );
  }
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await t.drop();
});

test('two processes, every event delivered to both: stored once, applied once', async () => {
  const callIds = Array.from({ length: 30 }, () => unique('call'));
  const answers = await Promise.all(
    callIds.flatMap((callId) => {
      const raw = JSON.stringify(
        retellEvent('call_started', {
          call_id: callId,
          agent_id: co.agentId,
          to_number: co.number,
        }),
      );
      return servers.map((s) => postRetell(s.url, raw));
    }),
  );
  expect(answers.every((r) => r.status === 200 || r.status === 202)).toBe(true);
  expect(answers.filter((r) => r.status === 202)).toHaveLength(30);

  const rows = await waitFor(async () => {
    const all = await t.superuser('webhook_events').where({ provider: 'retell' });
    return all.length === 30 && all.every((r: { status: string }) => r.status === 'processed')
      ? all
      : undefined;
  }, 20_000);
  expect(rows.every((r: { attempts: number }) => r.attempts === 1)).toBe(true);
  const calls = await t.superuser('calls').whereIn('retell_call_id', callIds);
  expect(calls).toHaveLength(30);
});
