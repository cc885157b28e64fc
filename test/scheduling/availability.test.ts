import type { Actor } from '../../src/context/actor';
import { findAvailableSlots, type FindAvailableSlotsInput } from '../../src/scheduling';
import { createCompany, createWorld, failure, type CompanyFixture, type World } from './fixtures';

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => world.t.drop());

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];

async function slots(co: CompanyFixture, actor: Actor, input: FindAvailableSlotsInput) {
  return co.run(actor, (ctx) => findAvailableSlots(ctx, input));
}

function byDate(list: { startsAt: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of list) (out[s.startsAt.slice(0, 10)] ??= []).push(s.startsAt.slice(11));
  return out;
}

const DAY_HOURS = ['09', '10', '11', '13', '14', '15', '16'];

describe.each([
  {
    zone: 'Europe/Berlin',
    change: 'spring forward',
    from: '2026-03-26',
    to: '2026-04-01',
    switchDate: '2026-03-29',
    before: '+01:00',
    after: '+02:00',
    night: ['01:00:00+01:00', '01:30:00+01:00', '03:00:00+02:00', '03:30:00+02:00'],
  },
  {
    zone: 'Europe/Berlin',
    change: 'fall back',
    from: '2026-10-22',
    to: '2026-10-28',
    switchDate: '2026-10-25',
    before: '+02:00',
    after: '+01:00',
    night: [
      '01:00:00+02:00',
      '01:30:00+02:00',
      '02:00:00+02:00',
      '02:30:00+02:00',
      '02:00:00+01:00',
      '02:30:00+01:00',
      '03:00:00+01:00',
      '03:30:00+01:00',
    ],
  },
  {
    zone: 'America/New_York',
    change: 'spring forward',
    from: '2026-03-05',
    to: '2026-03-11',
    switchDate: '2026-03-08',
    before: '-05:00',
    after: '-04:00',
    night: ['01:00:00-05:00', '01:30:00-05:00', '03:00:00-04:00', '03:30:00-04:00'],
  },
  {
    zone: 'America/New_York',
    change: 'fall back',
    from: '2026-10-29',
    to: '2026-11-04',
    switchDate: '2026-11-01',
    before: '-04:00',
    after: '-05:00',
    night: [
      '01:00:00-04:00',
      '01:30:00-04:00',
      '01:00:00-05:00',
      '01:30:00-05:00',
      '02:00:00-05:00',
      '02:30:00-05:00',
      '03:00:00-05:00',
      '03:30:00-05:00',
    ],
  },
])('the $change week in $zone', (c) => {
  let co: CompanyFixture;
  let admin: Actor;
  let day: string;
  let night: string;
  let dayStaff: string;
  beforeAll(async () => {
    // The company is elsewhere: the branch's zone must win.
    co = await createCompany(world, { timezone: 'Asia/Tokyo' });
    admin = await co.user('admin');
    const branch = await co.branch({ timezone: c.zone });
    dayStaff = await co.staff({ branchId: branch });
    const nightStaff = await co.staff({ branchId: branch });
    day = await co.service({ durationMinutes: 60, staffIds: [dayStaff], branchId: branch });
    night = await co.service({ durationMinutes: 30, staffIds: [nightStaff], branchId: branch });
    await co.weekly(dayStaff, ALL_DAYS, [
      ['09:00', '12:00'],
      ['13:00', '17:00'],
    ]);
    await co.weekly(nightStaff, [7], [['01:00', '04:00']]);
  });

  test('09:00 local every day, with the right offset before and after the change', async () => {
    const result = await slots(co, admin, {
      serviceId: day,
      from: c.from,
      to: c.to,
      stepMinutes: 60,
      now: new Date(`${c.from}T00:00:00Z`),
    });
    expect(result.timeZone).toBe(c.zone);
    const days = byDate(result.slots);
    expect(Object.keys(days)).toHaveLength(7);
    for (const [date, times] of Object.entries(days)) {
      const offset = date < c.switchDate ? c.before : c.after;
      expect(times).toEqual(DAY_HOURS.map((h) => `${h}:00:00${offset}`));
    }
    for (const s of result.slots) {
      expect(s.staffId).toBe(dayStaff);
      expect(s.start.getTime()).toBe(Date.parse(s.startsAt));
      expect(s.end.getTime() - s.start.getTime()).toBe(3_600_000);
    }
    // The UTC hour of the first slot moves by one at the change.
    const first = (date: string) => result.slots.find((s) => s.startsAt.startsWith(date))!.start;
    const beforeDate = c.from;
    const hourBefore = first(beforeDate).getUTCHours();
    const hourAfter = first(c.to).getUTCHours();
    expect(Math.abs(hourAfter - hourBefore)).toBe(1);
  });

  test('a night shift on the day of the change: no slot in a skipped hour, a repeated hour twice', async () => {
    const result = await slots(co, admin, {
      serviceId: night,
      from: c.switchDate,
      to: c.switchDate,
      stepMinutes: 30,
      now: new Date(`${c.from}T00:00:00Z`),
    });
    expect(result.slots.map((s) => s.startsAt.slice(11))).toEqual(c.night);
    const hours = new Set(result.slots.map((s) => s.start.getTime()));
    expect(hours.size).toBe(result.slots.length);
  });
});

describe('what availability takes into account', () => {
  let co: CompanyFixture;
  let admin: Actor;
  let a: string;
  let b: string;
  let archived: string;
  let cut: string;
  let customer: string;
  // Monday 2026-12-07, Berlin (+01:00).
  const now = new Date('2026-12-01T08:00:00Z');
  const monday = '2026-12-07';

  beforeAll(async () => {
    co = await createCompany(world, { timezone: 'Europe/Berlin' });
    admin = await co.user('admin');
    a = await co.staff({ name: 'Anna' });
    b = await co.staff({ name: 'Ben' });
    archived = await co.staff({ name: 'Old', archived: true });
    for (const s of [a, b, archived]) await co.weekly(s, [1, 2, 3, 4, 5], [['09:00', '12:00']]);
    cut = await co.service({ name: 'Cut', durationMinutes: 30, bufferMinutes: 15 });
    customer = await co.customer({ phone: '+4915112345678' });
  });

  const startsOf = (list: { startsAt: string; staffId: string }[], staffId: string) =>
    list.filter((s) => s.staffId === staffId).map((s) => s.startsAt.slice(11, 16));

  test('a service with no staff list is offered by every active staff member', async () => {
    const r = await slots(co, admin, { serviceId: cut, from: monday, to: monday, now });
    expect(new Set(r.slots.map((s) => s.staffId))).toEqual(new Set([a, b]));
    expect(r.slots.find((s) => s.staffId === a)?.staffName).toBe('Anna');
  });

  test('appointments block their time and both buffers; time off blocks too', async () => {
    await co.appointment({
      staffId: a,
      serviceId: cut,
      customerId: customer,
      startsAt: `${monday}T10:00:00+01:00`,
      minutes: 30,
    });
    await co.timeOff(b, `${monday}T09:00:00+01:00`, `${monday}T11:00:00+01:00`);
    const r = await slots(co, admin, { serviceId: cut, from: monday, to: monday, now });
    // The stored appointment took the service's 15-minute buffer from the trigger.
    expect(startsOf(r.slots, a)).toEqual(['09:00', '09:15', '10:45', '11:00', '11:15', '11:30']);
    expect(startsOf(r.slots, b)).toEqual(['11:00', '11:15', '11:30']);
  });

  test('cancelled appointments do not block', async () => {
    await co.appointment({
      staffId: b,
      serviceId: cut,
      customerId: customer,
      startsAt: `${monday}T11:00:00+01:00`,
      status: 'cancelled',
    });
    const r = await slots(co, admin, { serviceId: cut, staffId: b, from: monday, to: monday, now });
    expect(startsOf(r.slots, b)).toEqual(['11:00', '11:15', '11:30']);
  });

  test('a staff list limits who offers a service; branches limit the staff', async () => {
    const branch = await co.branch({ timezone: 'Europe/Berlin' });
    const elsewhere = await co.branch({ timezone: 'Europe/Berlin' });
    const c = await co.staff({ name: 'Cleo', branchId: branch });
    const d = await co.staff({ name: 'Dora', branchId: elsewhere });
    await co.weekly(c, [1], [['14:00', '15:00']]);
    await co.weekly(d, [1], [['14:00', '15:00']]);
    const colour = await co.service({ name: 'Colour', durationMinutes: 60, staffIds: [c] });
    let r = await slots(co, admin, { serviceId: colour, from: monday, to: monday, now });
    expect(r.slots.map((s) => [s.staffId, s.startsAt.slice(11, 16)])).toEqual([[c, '14:00']]);
    const local = await co.service({ name: 'Local', durationMinutes: 30, branchId: branch });
    r = await slots(co, admin, {
      serviceId: local,
      from: monday,
      to: monday,
      now,
      stepMinutes: 30,
    });
    // Staff of the service's branch, and staff assigned to no branch.
    expect(new Set(r.slots.map((s) => s.staffId))).toEqual(new Set([a, b, c]));
    r = await slots(co, admin, { serviceId: cut, branchId: branch, from: monday, to: monday, now });
    expect(new Set(r.slots.map((s) => s.staffId))).toEqual(new Set([a, b, c]));
    r = await slots(co, admin, { serviceId: cut, from: monday, to: monday, now });
    expect(new Set(r.slots.map((s) => s.staffId))).toEqual(new Set([a, b, c, d]));
  });

  test('minimum notice and horizon come from the booking policy', async () => {
    const svc = await co.service({ name: 'Policy', durationMinutes: 30, staffIds: [a] });
    await co.policy('booking', { minNoticeHours: 2, horizonDays: 7 }, { serviceId: svc });
    const at = new Date(`${monday}T08:30:00Z`); // 09:30 Berlin
    const r = await slots(co, admin, {
      serviceId: svc,
      from: monday,
      to: '2026-12-21',
      now: at,
      stepMinutes: 30,
    });
    expect(r.slots[0].startsAt).toBe(`${monday}T11:30:00+01:00`);
    expect(r.slots[r.slots.length - 1].start.getTime()).toBeLessThanOrEqual(
      at.getTime() + 7 * 86_400_000,
    );
    expect(r.latestStart.getTime()).toBe(at.getTime() + 7 * 86_400_000);
  });

  test('the range is at most 31 days and must be ordered', async () => {
    let err = await failure(
      slots(co, admin, { serviceId: cut, from: '2026-12-01', to: '2027-01-01', now }),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
    err = await failure(
      slots(co, admin, {
        serviceId: cut,
        from: '2026-12-02T00:00:00Z',
        to: '2026-12-01T00:00:00Z',
        now,
      }),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
    err = await failure(slots(co, admin, { serviceId: cut, from: 'tomorrow', to: monday, now }));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'from' });
    const ok = await slots(co, admin, {
      serviceId: cut,
      from: '2026-12-01',
      to: '2026-12-31',
      now,
    });
    expect(ok.slots.length).toBeGreaterThan(0);
  });

  test('unknown, malformed and archived ids', async () => {
    const other = await createCompany(world);
    const foreign = await other.service();
    const foreignStaff = await other.staff();
    for (const serviceId of [foreign, '00000000-0000-4000-8000-000000000000', 'nope']) {
      const err = await failure(slots(co, admin, { serviceId, from: monday, to: monday, now }));
      expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'serviceId' });
    }
    let err = await failure(
      slots(co, admin, { serviceId: cut, staffId: foreignStaff, from: monday, to: monday, now }),
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'staffId' });
    err = await failure(
      slots(co, admin, { serviceId: cut, staffId: archived, from: monday, to: monday, now }),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'staffId' });
    const gone = await co.service({ archived: true });
    err = await failure(slots(co, admin, { serviceId: gone, from: monday, to: monday, now }));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'serviceId' });
  });

  test('a fixed number of statements whatever the length of the range, once the page is full', async () => {
    const count = async (to: string) => {
      const seen: string[] = [];
      const listener = (q: { sql: string }) => seen.push(q.sql);
      world.t.db.knex.on('query', listener);
      try {
        const r = await slots(co, admin, { serviceId: cut, from: monday, to, now, first: 10 });
        expect(r.slots).toHaveLength(10);
      } finally {
        world.t.db.knex.off('query', listener);
      }
      return seen;
    };
    const one = await count(monday);
    const month = await count('2027-01-06');
    expect(month.length).toBe(one.length);
    // BEGIN, set_config, 6 reads, COMMIT: service, company, branches, staff with their working
    // hours, booking policies, and the busy intervals of the first window (one day).
    const reads = one.filter((sql) => /^\(?select/i.test(sql) && !/set_config/.test(sql));
    expect(reads).toHaveLength(6);
    expect(one.length).toBeLessThanOrEqual(9);
  });
});
