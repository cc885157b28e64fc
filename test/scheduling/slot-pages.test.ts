import type { Actor } from '../../src/context/actor';
import {
  DEFAULT_SLOT_LIMIT,
  findAvailableSlots,
  MAX_SLOT_LIMIT,
  type AvailableSlot,
  type FindAvailableSlotsInput,
} from '../../src/scheduling';
import { createCompany, createWorld, failure, type CompanyFixture, type World } from './fixtures';

/**
 * Availability answers a bounded page: at most `first` slots, earliest first, continued after a
 * position; the range is walked a window at a time, so the statements and rows read follow the
 * range walked and the slots answered, not the company's history.
 */
let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => world.t.drop());

// Tuesday 2026-12-01 09:00 Berlin; the week asked is Monday 7 to Friday 11 December.
const now = new Date('2026-12-01T08:00:00Z');
const monday = '2026-12-07';
const friday = '2026-12-11';
const WEEKDAYS = [1, 2, 3, 4, 5];
// Three staff, 09:00-12:00, a 30-minute service on a 15-minute grid: 11 starts a day each.
const PER_STAFF_DAY = 11;

interface Team {
  co: CompanyFixture;
  admin: Actor;
  staff: string[];
  service: string;
  customer: string;
}

async function team(): Promise<Team> {
  const co = await createCompany(world, { timezone: 'Europe/Berlin' });
  const admin = await co.user('admin');
  const staff: string[] = [];
  for (const name of ['Anna', 'Ben', 'Cleo']) {
    const id = await co.staff({ name });
    await co.weekly(id, WEEKDAYS, [['09:00', '12:00']]);
    staff.push(id);
  }
  const service = await co.service({ name: 'Cut', durationMinutes: 30, bufferMinutes: 0 });
  const customer = await co.customer({ phone: '+4915112345678' });
  return { co, admin, staff, service, customer };
}

const key = (s: AvailableSlot) => `${s.start.toISOString()} ${s.staffId}`;

function find(t: Team, input: Partial<FindAvailableSlotsInput>) {
  return t.co.run(t.admin, (ctx) =>
    findAvailableSlots(ctx, { serviceId: t.service, from: monday, to: friday, now, ...input }),
  );
}

/** Every page of a walk with `first`, following the last slot of each page. */
async function allPages(t: Team, input: Partial<FindAvailableSlotsInput>) {
  const pages: AvailableSlot[][] = [];
  let after: FindAvailableSlotsInput['after'] = null;
  for (;;) {
    const page = await find(t, { ...input, after });
    pages.push(page.slots);
    if (!page.hasMore) break;
    const last = page.slots[page.slots.length - 1];
    after = { start: last.start, staffId: last.staffId };
    if (pages.length > 500) throw new Error('paging does not end');
  }
  return pages;
}

describe('bounded pages', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team();
  });

  test(`${DEFAULT_SLOT_LIMIT} slots by default, the earliest, and hasMore when more follow`, async () => {
    const all = await find(t, { first: MAX_SLOT_LIMIT });
    expect(all.slots).toHaveLength(3 * 5 * PER_STAFF_DAY);
    expect(all.hasMore).toBe(false);
    const page = await find(t, {});
    expect(page.slots).toHaveLength(DEFAULT_SLOT_LIMIT);
    expect(page.hasMore).toBe(true);
    expect(page.slots.map(key)).toEqual(all.slots.slice(0, DEFAULT_SLOT_LIMIT).map(key));
    expect(page.slots[0].startsAt).toBe(`${monday}T09:00:00+01:00`);
  });

  test('first outside 1 to the maximum is refused, naming first', async () => {
    for (const first of [0, -1, 1.5, MAX_SLOT_LIMIT + 1]) {
      const err = await failure(find(t, { first }));
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    }
  });

  test.each([1, 7, 33, 50])(
    'pages of %i continue after the last slot without gaps or duplicates',
    async (first) => {
      const all = (await find(t, { first: MAX_SLOT_LIMIT })).slots.map(key);
      const pages = await allPages(t, { first });
      expect(pages.every((p) => p.length <= first)).toBe(true);
      expect(pages.slice(0, -1).every((p) => p.length === first)).toBe(true);
      expect(pages.flat().map(key)).toEqual(all);
    },
  );

  test('a position between slots or before the range continues at the next slot', async () => {
    const all = (await find(t, { first: MAX_SLOT_LIMIT })).slots;
    // Between two grid times: the next slot is the one at 09:15 of the first staff member.
    const between = await find(t, {
      first: 3,
      after: { start: new Date(`${monday}T09:05:00+01:00`), staffId: t.staff[0] },
    });
    expect(between.slots.map(key)).toEqual(
      all.filter((s) => s.startsAt === `${monday}T09:15:00+01:00`).map(key),
    );
    const before = await find(t, {
      first: 2,
      after: { start: new Date('2026-11-01T00:00:00Z'), staffId: t.staff[0] },
    });
    expect(before.slots.map(key)).toEqual(all.slice(0, 2).map(key));
  });

  test('distinct times: one slot per start time, paged the same way', async () => {
    const all = await find(t, { first: MAX_SLOT_LIMIT, distinctTimes: true });
    expect(all.slots).toHaveLength(5 * PER_STAFF_DAY);
    expect(new Set(all.slots.map((s) => s.startsAt)).size).toBe(all.slots.length);
    const lowest = [...t.staff].sort()[0];
    expect(all.slots.every((s) => s.staffId === lowest)).toBe(true);
    const pages = await allPages(t, { first: 4, distinctTimes: true });
    expect(pages.flat().map(key)).toEqual(all.slots.map(key));
  });

  test('a taken time is skipped for its staff member and the next one offers it', async () => {
    const other = await team();
    const busyStaff = [...other.staff].sort()[0];
    await other.co.appointment({
      staffId: busyStaff,
      serviceId: other.service,
      customerId: other.customer,
      startsAt: `${monday}T09:00:00+01:00`,
      minutes: 60,
    });
    const r = await find(other, { first: 3, distinctTimes: true });
    expect(r.slots[0].startsAt).toBe(`${monday}T09:00:00+01:00`);
    expect(r.slots[0].staffId).toBe([...other.staff].sort()[1]);
  });
});

describe('absurd ranges', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team();
  });

  test.each([
    ['the year 9999', { from: '9999-12-01', to: '9999-12-02' }, 'from'],
    ['an end before the start', { from: friday, to: monday }, 'to'],
    [
      'instants in the wrong order',
      { from: '2026-12-08T10:00:00Z', to: '2026-12-08T09:00:00Z' },
      'to',
    ],
    ['more than 31 days', { from: monday, to: '2027-02-01' }, 'to'],
    ['a date that does not exist', { from: '2026-02-30', to: monday }, 'from'],
    ['not a date', { from: 'next week', to: monday }, 'from'],
  ])('%s is BAD_USER_INPUT naming the field', async (_name, range, field) => {
    const err = await failure(find(t, range));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  test('a range past the booking horizon is refused with the rule; one reaching past it is cut', async () => {
    await t.co.policy('booking', { horizonDays: 10 }, { serviceId: t.service });
    const err = await failure(find(t, { from: '2026-12-21', to: '2026-12-24' }));
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'from',
      details: { rule: 'booking.horizonDays', limit: 10 },
    });
    expect(err.message).toMatch(/at most 10 days ahead/);
    const cut = await find(t, { from: monday, to: '2026-12-18', first: MAX_SLOT_LIMIT });
    const horizon = now.getTime() + 10 * 86_400_000;
    expect(cut.slots.length).toBeGreaterThan(0);
    expect(cut.slots.every((s) => s.start.getTime() <= horizon)).toBe(true);
    expect(cut.hasMore).toBe(false);
  });

  test('a range already past is empty, not an error', async () => {
    const r = await find(t, { from: '2026-11-23', to: '2026-11-27' });
    expect(r.slots).toEqual([]);
    expect(r.hasMore).toBe(false);
  });
});

describe('statements follow the page, not the company', () => {
  async function statements(t: Team, input: Partial<FindAvailableSlotsInput>) {
    const seen: string[] = [];
    const listener = (q: { sql: string }) => seen.push(q.sql);
    world.t.db.knex.on('query', listener);
    try {
      const r = await find(t, input);
      return { seen, slots: r.slots };
    } finally {
      world.t.db.knex.off('query', listener);
    }
  }

  test('a company with a year of appointments issues the same statements as an empty one', async () => {
    const empty = await team();
    const busy = await team();
    // A year back and three weeks after the week asked: every hour of every weekday, each staff.
    const rows: Record<string, unknown>[] = [];
    const start = Date.parse('2025-12-01T00:00:00Z');
    for (let day = 0; day < 400; day++) {
      const midnight = start + day * 86_400_000;
      const date = new Date(midnight);
      if (date.getUTCDay() === 0 || date.getUTCDay() === 6) continue;
      // Leave the week asked free, so both companies answer the same slots.
      const iso = date.toISOString().slice(0, 10);
      if (iso >= monday && iso <= friday) continue;
      for (const staffId of busy.staff) {
        for (let hour = 8; hour < 11; hour++) {
          const starts = new Date(midnight + hour * 3_600_000);
          rows.push({
            company_id: busy.co.id,
            staff_id: staffId,
            service_id: busy.service,
            customer_id: busy.customer,
            starts_at: starts,
            ends_at: new Date(starts.getTime() + 30 * 60_000),
            status: date.getTime() < now.getTime() ? 'completed' : 'scheduled',
            source: 'manual',
          });
        }
      }
    }
    expect(rows.length).toBeGreaterThan(2500);
    await world.t.superuser.batchInsert('appointments', rows, 1000);

    for (const input of [
      { first: 10 },
      { first: 100 },
      { first: 20, distinctTimes: true },
      { first: MAX_SLOT_LIMIT },
    ]) {
      const a = await statements(empty, input);
      const b = await statements(busy, input);
      expect(b.seen.length).toBe(a.seen.length);
      expect(b.slots.map((s) => s.startsAt)).toEqual(a.slots.map((s) => s.startsAt));
    }
    // A page that fits the first day reads one window: BEGIN with set_config (one round trip), 6
    // reads, COMMIT.
    expect((await statements(busy, { first: 10 })).seen).toHaveLength(8);
  });

  test('a sparse calendar is walked in windows of 1, 2, 4, 8 and 16 days: 5 statements for 31 days', async () => {
    const t = await team();
    // Works every weekday but is away for the whole range asked: nothing to find.
    const away = await t.co.staff({ name: 'Away' });
    await t.co.weekly(away, WEEKDAYS, [['09:00', '12:00']]);
    await t.co.timeOff(away, '2026-12-01T00:00:00Z', '2027-01-10T00:00:00Z');
    const month = await statements(t, { staffId: away, from: monday, to: '2027-01-06' });
    const day = await statements(t, { staffId: away, from: monday, to: monday });
    expect(month.slots).toEqual([]);
    expect(month.seen.length - day.seen.length + 1).toBe(5);
  });

  test('a window in which nobody works costs no statement', async () => {
    const t = await team();
    // Saturday and Sunday, then Monday: the weekend is skipped, Monday is read.
    const weekend = await statements(t, { from: '2026-12-05', to: '2026-12-06' });
    const monday1 = await statements(t, { from: monday, to: monday, first: 10 });
    const both = await statements(t, { from: '2026-12-05', to: monday, first: 10 });
    expect(weekend.slots).toEqual([]);
    expect(weekend.seen).toHaveLength(monday1.seen.length - 1);
    expect(both.seen).toHaveLength(monday1.seen.length);
    expect(both.slots.map((x) => x.startsAt)).toEqual(monday1.slots.map((x) => x.startsAt));
  });

  test('more than a page (every slot of the range) is read in one window', async () => {
    const t = await team();
    const month = await statements(t, { from: monday, to: '2027-01-06', first: MAX_SLOT_LIMIT });
    const page = await statements(t, { from: monday, to: '2027-01-06', first: 10 });
    expect(month.slots.length).toBeGreaterThan(500);
    expect(month.seen).toHaveLength(page.seen.length);
  });
});
