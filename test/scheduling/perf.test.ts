import { performance } from 'node:perf_hooks';
import type { Actor } from '../../src/context/actor';
import { DEFAULT_SLOT_LIMIT, findAvailableSlots, MAX_SLOT_LIMIT } from '../../src/scheduling';
import { createCompany, createWorld, type CompanyFixture, type World } from './fixtures';

/**
 * How long availability takes for a realistic small business: one branch, three staff working
 * Monday to Saturday with a lunch break, three services, about 40 appointments in the next two
 * weeks. Each run is a whole request: its own transaction (BEGIN, set_config, reads, COMMIT).
 */

let world: World;
let co: CompanyFixture;
let admin: Actor;
let staff: string[];
let service: string;
const now = new Date('2026-12-01T06:00:00Z');
const RUNS = 50;

beforeAll(async () => {
  world = await createWorld();
  co = await createCompany(world, { timezone: 'Europe/Berlin' });
  admin = await co.user('admin');
  const branch = await co.branch({ name: 'Main', timezone: 'Europe/Berlin' });
  staff = [];
  for (const name of ['Anna', 'Ben', 'Cleo']) {
    const id = await co.staff({ name, branchId: branch });
    await co.weekly(
      id,
      [1, 2, 3, 4, 5, 6],
      [
        ['09:00', '13:00'],
        ['14:00', '18:00'],
      ],
    );
    staff.push(id);
  }
  const services = [
    await co.service({
      name: 'Cut',
      durationMinutes: 30,
      bufferMinutes: 10,
      branchId: branch,
      staffIds: staff,
    }),
    await co.service({
      name: 'Colour',
      durationMinutes: 90,
      bufferMinutes: 15,
      branchId: branch,
      staffIds: staff,
    }),
    await co.service({
      name: 'Beard',
      durationMinutes: 20,
      bufferMinutes: 0,
      branchId: branch,
      staffIds: staff,
    }),
  ];
  service = services[0];
  const customers = [];
  for (let i = 0; i < 15; i++)
    customers.push(await co.customer({ phone: `+4915160000${String(i).padStart(3, '0')}` }));
  // 42 appointments over 14 days: three a working day, each staff member in turn.
  let n = 0;
  for (let day = 0; day < 14; day++) {
    const date = new Date(Date.UTC(2026, 11, 1 + day));
    if (date.getUTCDay() === 0) continue;
    for (let k = 0; k < 3; k++) {
      const hour = [9, 11, 15][(day + k) % 3];
      const startsAt = `${date.toISOString().slice(0, 10)}T${String(hour).padStart(2, '0')}:00:00+01:00`;
      await co.appointment({
        staffId: staff[(day + k) % 3],
        serviceId: services[n % 3],
        customerId: customers[n % customers.length],
        startsAt,
        minutes: [30, 90, 20][n % 3],
      });
      n++;
    }
  }
  await co.timeOff(staff[0], '2026-12-10T09:00:00+01:00', '2026-12-10T13:00:00+01:00');
}, 60_000);
afterAll(async () => world.t.drop());

async function measure(staffId: string | null, first?: number) {
  const input = { serviceId: service, staffId, from: '2026-12-01', to: '2026-12-14', now, first };
  for (let i = 0; i < 5; i++) await co.run(admin, (ctx) => findAvailableSlots(ctx, input));
  const times: number[] = [];
  const statements: string[] = [];
  const listener = (q: { sql: string }) => statements.push(q.sql);
  let slots = 0;
  for (let i = 0; i < RUNS; i++) {
    if (i === 0) world.t.db.knex.on('query', listener);
    const t0 = performance.now();
    const r = await co.run(admin, (ctx) => findAvailableSlots(ctx, input));
    times.push(performance.now() - t0);
    if (i === 0) world.t.db.knex.off('query', listener);
    slots = r.slots.length;
  }
  times.sort((a, b) => a - b);
  return {
    medianMs: Math.round(times[Math.floor(RUNS / 2)] * 100) / 100,
    p90Ms: Math.round(times[Math.floor(RUNS * 0.9)] * 100) / 100,
    statements: statements.length,
    reads: statements.filter((s) => /^\(?select/i.test(s) && !/set_config/.test(s)).length,
    slots,
  };
}

test('findAvailableSlots over 14 days: median time and statements per request', async () => {
  const page = await measure(null);
  const one = await measure(staff[0], MAX_SLOT_LIMIT);
  const all = await measure(null, MAX_SLOT_LIMIT);
  console.log(
    [
      `findAvailableSlots, 14 days, 1 branch, 3 staff, 42 appointments, ${RUNS} runs`,
      `  first page (50), all staff: median ${page.medianMs} ms, p90 ${page.p90Ms} ms, ${page.statements} statements (${page.reads} reads), ${page.slots} slots`,
      `  every slot, one staff member: median ${one.medianMs} ms, p90 ${one.p90Ms} ms, ${one.statements} statements (${one.reads} reads), ${one.slots} slots`,
      `  every slot, all three staff:  median ${all.medianMs} ms, p90 ${all.p90Ms} ms, ${all.statements} statements (${all.reads} reads), ${all.slots} slots`,
    ].join('\n'),
  );
  // The first day fills the page: 5 reads once, one busy-interval read for the day.
  expect(page.reads).toBe(6);
  expect(page.slots).toBe(DEFAULT_SLOT_LIMIT);
  // Every slot of 14 days: more than a page, so one window.
  expect(one.reads).toBe(6);
  expect(all.reads).toBe(6);
  expect(one.slots).toBeGreaterThan(100);
  expect(all.slots).toBeGreaterThan(one.slots);
  // A loose bound: shared CI machines vary; the figures above are what to read.
  expect(one.medianMs).toBeLessThan(250);
});
