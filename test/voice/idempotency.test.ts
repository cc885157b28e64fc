import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import {
  callFor,
  callFunction,
  localStart,
  nextWeekday,
  seedSalon,
  startVoiceApp,
  type Salon,
} from './helpers';

/**
 * Retell retries slow or failed requests. The same call, function and arguments give one effect
 * and the same answer, whether the retry comes after the first answer or at the same time.
 */
let t: TestDatabase;
let salon: Salon;
let app: Awaited<ReturnType<typeof startVoiceApp>>;

beforeAll(async () => {
  t = await createTestDatabase();
  salon = await seedSalon(t.superuser, { language: 'en' });
  app = await startVoiceApp(t.db);
});
afterAll(async () => {
  await app.close();
  await t.drop();
});

const appointmentsOf = async (retellCallId: string) => {
  const call = await t.superuser('calls').where({ retell_call_id: retellCallId }).first();
  return call ? t.superuser('appointments').where({ call_id: call.id }) : [];
};

test('a retried booking books once and answers the same', async () => {
  const call = callFor(salon, '+4915711112222');
  const args = {
    service: 'Haircut',
    start: localStart(nextWeekday(4), '11:00'),
    name: 'Retry Test',
  };
  const first = await callFunction(app.url, 'book_appointment', call, args);
  expect(first.body.ok).toBe(true);
  const again = await callFunction(app.url, 'book_appointment', call, args);
  expect(again.body).toEqual(first.body);
  // Arguments in another key order are the same arguments.
  const reordered = Object.fromEntries(Object.entries(args).reverse());
  expect((await callFunction(app.url, 'book_appointment', call, reordered)).body).toEqual(
    first.body,
  );
  expect(await appointmentsOf(call.call_id)).toHaveLength(1);
  const c = await t.superuser('calls').where({ retell_call_id: call.call_id }).first();
  const log = await t
    .superuser('voice_function_calls')
    .where({ call_id: c.id })
    .orderBy('created_at');
  expect(log.map((r: any) => r.replayed)).toEqual([false, true, true]);
  // Other arguments are another booking.
  const other = await callFunction(app.url, 'book_appointment', call, {
    ...args,
    start: localStart(nextWeekday(4), '12:00'),
  });
  expect(other.body.ok).toBe(true);
  expect(other.body.appointmentId).not.toBe(first.body.appointmentId);
  expect(await appointmentsOf(call.call_id)).toHaveLength(2);
});

test('concurrent retries of one booking book once, with identical answers', async () => {
  const call = callFor(salon, '+4915733334444');
  const args = { service: 'Colour', start: localStart(nextWeekday(5), '10:00'), name: 'Racer' };
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => callFunction(app.url, 'book_appointment', call, args)),
  );
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(a.body).toEqual(answers[0].body);
  }
  expect(answers[0].body.ok).toBe(true);
  expect(await appointmentsOf(call.call_id)).toHaveLength(1);
});

test('a concurrent retry of a cancellation cancels once', async () => {
  const call = callFor(salon, '+4915755556666');
  const booked = await callFunction(app.url, 'book_appointment', call, {
    service: 'Haircut',
    start: localStart(nextWeekday(5), '15:00'),
  });
  const answers = await Promise.all(
    Array.from({ length: 4 }, () =>
      callFunction(app.url, 'cancel_appointment', call, {
        appointment_id: booked.body.appointmentId,
      }),
    ),
  );
  for (const a of answers) expect(a.body).toEqual(answers[0].body);
  expect(answers[0].body.ok).toBe(true);
  const audits = await t.superuser('activity_logs').where({
    subject_id: booked.body.appointmentId,
    action: 'appointment.cancelled',
  });
  expect(audits).toHaveLength(1);
});

test('two callers racing for one slot: one books, the other hears it was just taken', async () => {
  const start = localStart(nextWeekday(6), '10:00');
  // Both staff members: take one of them first, so one place is left.
  const day = nextWeekday(6);
  await callFunction(app.url, 'book_appointment', callFor(salon, '+4915700000001'), {
    service: 'Colour',
    start: localStart(day, '10:00'),
    staff: 'Sam',
  });
  const [x, y] = await Promise.all([
    callFunction(app.url, 'book_appointment', callFor(salon, '+4915700000002'), {
      service: 'Colour',
      start,
    }),
    callFunction(app.url, 'book_appointment', callFor(salon, '+4915700000003'), {
      service: 'Colour',
      start,
    }),
  ]);
  expect(x.status).toBe(200);
  expect(y.status).toBe(200);
  const results = [x.body, y.body];
  expect(results.filter((r) => r.ok)).toHaveLength(1);
  const lost = results.find((r) => !r.ok);
  expect(lost.message).toMatch(/just been taken|closed or no one/);
  expect(lost.alternatives.length).toBeGreaterThan(0);
  expect(lost.alternatives.length).toBeLessThanOrEqual(3);
});
