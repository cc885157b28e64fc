import { createCallLimiter } from '../../src/voice/limits';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  callFor,
  callFunction,
  counterValue,
  localStart,
  nextWeekday,
  seedSalon,
  startVoiceApp,
  type Salon,
} from './helpers';

/**
 * Per-call limits at their exact boundaries: 10 of one function, 20 a minute, 50 a call. Past
 * them the agent gets a short speakable refusal and nothing is done. With REDIS_URL the counters
 * are shared: two app instances on one Redis count together.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let t: TestDatabase;
let salon: Salon;
const apps: Array<{ close: () => Promise<void> }> = [];

beforeAll(async () => {
  t = await createTestDatabase();
  salon = await seedSalon(t.superuser, { language: 'de' });
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await t.drop();
});

async function app(overrides: Parameters<typeof startVoiceApp>[1] = {}) {
  const started = await startVoiceApp(t.db, overrides);
  apps.push(started);
  return started;
}

const logOf = async (retellCallId: string) => {
  const call = await t.superuser('calls').where({ retell_call_id: retellCallId }).first();
  return t.superuser('voice_function_calls').where({ call_id: call.id }).orderBy('created_at');
};

describe.each([
  ['in memory', {}],
  ['in Redis', { redisUrl: REDIS_URL }],
])('%s', (_label, extra) => {
  test('10 of one function pass, the 11th is refused speakably', async () => {
    const { url, deps } = await app(extra);
    const call = callFor(salon, salon.customerPhone);
    for (let i = 0; i < 10; i++) {
      const r = await callFunction(url, 'list_services', call);
      expect(r.body.ok).toBe(true);
    }
    const refused = await callFunction(url, 'list_services', call);
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ ok: false, limit: 'per_function' });
    expect(refused.body.message).toMatch(/nicht mehr/);
    expect(refused.body.services).toBeUndefined();
    // Another function in the same call still works.
    expect((await callFunction(url, 'find_appointments', call)).body.ok).toBe(true);
    const log = await logOf(call.call_id);
    expect(log.map((r: any) => r.outcome)).toEqual([...Array(10).fill('ok'), 'limited', 'ok']);
    const counted = (outcome: string) =>
      counterValue(deps.metrics.voiceFunctionCalls, { function: 'list_services', outcome });
    expect(await counted('ok')).toBe(10);
    expect(await counted('limited')).toBe(1);
  });

  test('20 in a minute pass, the 21st is refused and books nothing', async () => {
    const { url } = await app(extra);
    const call = callFor(salon, salon.customerPhone);
    for (let i = 0; i < 10; i++) await callFunction(url, 'list_services', call);
    for (let i = 0; i < 10; i++) {
      expect((await callFunction(url, 'find_appointments', call)).body.ok).toBe(true);
    }
    const day = nextWeekday(3);
    const refused = await callFunction(url, 'book_appointment', call, {
      service: 'Haircut',
      start: localStart(day, '10:00'),
    });
    expect(refused.body).toMatchObject({ ok: false, limit: 'per_minute' });
    const c = await t.superuser('calls').where({ retell_call_id: call.call_id }).first();
    expect(await t.superuser('appointments').where({ call_id: c.id })).toHaveLength(0);
    expect(await t.superuser('voice_idempotency').where({ call_id: c.id })).toHaveLength(0);
  });

  test('50 in a call pass, the 51st is refused', async () => {
    const { url } = await app({
      ...extra,
      voiceLimits: { perCall: 50, perMinute: 1000, perFunction: 1000 },
    });
    const call = callFor(salon, salon.customerPhone);
    for (let i = 0; i < 50; i++) {
      const r = await callFunction(url, i % 2 ? 'list_services' : 'find_appointments', call);
      expect(r.body.ok).toBe(true);
    }
    const refused = await callFunction(url, 'list_services', call);
    expect(refused.body).toMatchObject({ ok: false, limit: 'per_call' });
    // Another call is not affected.
    const other = callFor(salon, salon.customerPhone);
    expect((await callFunction(url, 'list_services', other)).body.ok).toBe(true);
  });
});

describe('two app instances on one Redis', () => {
  test('share the per-function and per-minute counters exactly', async () => {
    const one = await app({ redisUrl: REDIS_URL });
    const two = await app({ redisUrl: REDIS_URL });
    const call = callFor(salon, salon.customerPhone);
    for (let i = 0; i < 10; i++) {
      const r = await callFunction(i % 2 ? one.url : two.url, 'list_services', call);
      expect(r.body.ok).toBe(true);
    }
    expect((await callFunction(one.url, 'list_services', call)).body.limit).toBe('per_function');
    expect((await callFunction(two.url, 'list_services', call)).body.limit).toBe('per_function');
    // 12 counted so far; 8 more pass in this minute, the 21st is refused on either instance.
    for (let i = 0; i < 8; i++) {
      const r = await callFunction(i % 2 ? one.url : two.url, 'find_appointments', call);
      expect(r.body.ok).toBe(true);
    }
    expect((await callFunction(two.url, 'find_appointments', call)).body.limit).toBe('per_minute');
  });

  test('the limiter alone: concurrent takes across two clients never exceed the limit', async () => {
    const prefix = `voice-test-${process.pid}-${Date.now()}`;
    const limits = { perCall: 50, perMinute: 1000, perFunction: 10 };
    const x = createCallLimiter(limits, { redisUrl: REDIS_URL, keyPrefix: prefix });
    const y = createCallLimiter(limits, { redisUrl: REDIS_URL, keyPrefix: prefix });
    try {
      // Both connected first: a take before the first connection (or one that times out) counts
      // in the process by the voice limiter's failure rule, which is not what this test is about.
      await Promise.all([x.take('warm-up-x', 'fn'), y.take('warm-up-y', 'fn')]);
      const verdicts = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? x : y).take('call-1', 'fn')),
      );
      expect(verdicts.filter((v) => v.allowed)).toHaveLength(10);
    } finally {
      await x.close();
      await y.close();
    }
  });
});
