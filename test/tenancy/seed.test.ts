import { parseOptions } from '@node-rs/argon2';
import fc from 'fast-check';
import { isValidPhoneNumber } from 'libphonenumber-js';
import { DateTime } from 'luxon';
import {
  DUMMY_HASH,
  PASSWORD_HASH_OPTIONS,
  hashPassword,
  needsRehash,
  verifyDummy,
  verifyPassword,
} from '../../src/auth/password';
import { validatePolicyConfig, type PolicyType } from '../../src/scheduling/policies';
import { DEMO_COMPANIES } from '../../src/seed/demo-companies';
import {
  DEMO_PASSWORD,
  DEMO_USERS,
  demoUserLines,
  planDemoData,
  seedDemoData,
  type SeedSummary,
} from '../../src/seed/demo';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

/** The demo seed on PostgreSQL: exact volumes, uneven companies, consistency, idempotency, logins. */
const NOW = new Date('2026-11-26T10:15:00Z');
let t: TestDatabase;
let summary: SeedSummary;

beforeAll(async () => {
  t = await createTestDatabase();
  summary = await seedDemoData(t.db, undefined, { now: NOW });
  console.log(`demo seed on PostgreSQL took ${summary.durationMs} ms`);
});
afterAll(async () => t.drop());

async function rows<T>(sql: string, bindings: readonly unknown[] = []): Promise<T[]> {
  return (await t.superuser.raw<{ rows: T[] }>(sql, bindings as never)).rows;
}

test('creates exactly 117 appointments, 60 customers and 100 calls in three companies', async () => {
  expect(summary).toMatchObject({
    seeded: true,
    companies: 3,
    appointments: 117,
    customers: 60,
    calls: 100,
    users: 6,
  });
  const [totals] = await rows<Record<string, number>>(
    `select (select count(*) from companies)::int as companies,
            (select count(*) from appointments)::int as appointments,
            (select count(*) from customers)::int as customers,
            (select count(*) from calls)::int as calls,
            (select count(*) from users)::int as users,
            (select count(*) from platform_admins)::int as platform_admins`,
  );
  expect(totals).toEqual({
    companies: 3,
    appointments: 117,
    customers: 60,
    calls: 100,
    users: 5,
    platform_admins: 1,
  });
  expect(summary.durationMs).toBeLessThan(10_000);
});

test('the companies differ in size, time zone and currency', async () => {
  const perCompany = await rows<{
    slug: string;
    timezone: string;
    currency: string;
    appointments: number;
    customers: number;
    calls: number;
    staff: number;
    branches: number;
  }>(
    `select c.slug, c.timezone, c.currency,
            (select count(*) from appointments a where a.company_id = c.id)::int as appointments,
            (select count(*) from customers x where x.company_id = c.id)::int as customers,
            (select count(*) from calls x where x.company_id = c.id)::int as calls,
            (select count(*) from staff x where x.company_id = c.id)::int as staff,
            (select count(*) from branches x where x.company_id = c.id)::int as branches
       from companies c order by appointments desc`,
  );
  expect(perCompany).toEqual([
    expect.objectContaining({
      slug: 'salon-schoenhaar',
      timezone: 'Europe/Berlin',
      currency: 'EUR',
      appointments: 60,
      customers: 30,
      calls: 50,
      staff: 5,
      branches: 2,
    }),
    expect.objectContaining({
      slug: 'zahnarzt-lindner',
      timezone: 'Europe/Vienna',
      currency: 'EUR',
      appointments: 37,
      customers: 20,
      calls: 32,
      staff: 3,
      branches: 1,
    }),
    expect.objectContaining({
      slug: 'brooklyn-auto-care',
      timezone: 'America/New_York',
      currency: 'USD',
      appointments: 20,
      customers: 10,
      calls: 18,
      staff: 2,
      branches: 1,
    }),
  ]);
});

test('every tenant table the demo needs has rows in every company', async () => {
  const tables = [
    'branches',
    'staff',
    'service_categories',
    'services',
    'staff_services',
    'working_hours',
    'time_off',
    'users',
    'user_preferences',
    'customers',
    'customer_notes',
    'retell_agents',
    'phone_numbers',
    'calls',
    'appointments',
    'policy_configurations',
    'callback_requests',
    'activity_logs',
  ];
  for (const table of tables) {
    const [r] = await rows<{ companies: number }>(
      `select count(distinct company_id)::int as companies from ??`,
      [table],
    );
    expect({ table, companies: r.companies }).toEqual({ table, companies: 3 });
  }
  const [calcom] = await rows<{ mappings: number; members: number }>(
    `select (select count(*) from team_event_type_mappings)::int as mappings,
            (select count(*) from calcom_team_members)::int as members`,
  );
  expect(calcom.mappings).toBeGreaterThan(0);
  expect(calcom.members).toBeGreaterThan(0);
});

test('customer phones are valid E.164 numbers, unique within their company', async () => {
  const phones = await rows<{ company_id: string; phone_e164: string }>(
    'select company_id, phone_e164 from customers',
  );
  expect(phones).toHaveLength(60);
  for (const { phone_e164 } of phones) {
    expect(phone_e164).toMatch(/^\+[1-9][0-9]{6,14}$/);
    expect({ phone_e164, valid: isValidPhoneNumber(phone_e164) }).toEqual({
      phone_e164,
      valid: true,
    });
  }
  const keys = phones.map((p) => `${p.company_id}|${p.phone_e164}`);
  expect(new Set(keys).size).toBe(keys.length);
});

test('appointments lie in the past and the future with statuses and sources to match', async () => {
  const appts = await rows<{
    starts_at: Date;
    ends_at: Date;
    status: string;
    source: string;
    call_id: string | null;
    calcom_booking_uid: string | null;
    cancelled_at: Date | null;
    rescheduled_from_id: string | null;
  }>('select * from appointments');
  const past = appts.filter((a) => a.starts_at < NOW);
  const future = appts.filter((a) => a.starts_at >= NOW);
  expect(past.length).toBeGreaterThan(40);
  expect(future.length).toBeGreaterThan(30);
  expect(new Set(past.map((a) => a.status))).toEqual(
    new Set(['completed', 'no_show', 'cancelled']),
  );
  expect(new Set(future.map((a) => a.status))).toEqual(
    new Set(['scheduled', 'confirmed', 'cancelled']),
  );
  expect(new Set(appts.map((a) => a.source))).toEqual(
    new Set(['phone', 'web', 'calcom', 'manual']),
  );
  for (const a of appts) {
    expect(a.source === 'phone').toBe(a.call_id !== null);
    expect(a.source === 'calcom').toBe(a.calcom_booking_uid !== null);
    expect(a.status === 'cancelled').toBe(a.cancelled_at !== null);
  }
  expect(appts.filter((a) => a.rescheduled_from_id).length).toBeGreaterThanOrEqual(2);
});

test("no staff member has overlapping appointments, counting the service's buffer", async () => {
  const clashes = await rows<{ a: string; b: string }>(
    `select x.id as a, y.id as b
       from appointments x
       join appointments y on y.company_id = x.company_id and y.staff_id = x.staff_id and y.id > x.id
      where x.status <> 'cancelled' and y.status <> 'cancelled'
        and tstzrange(x.starts_at, x.ends_at + make_interval(mins => x.buffer_minutes))
         && tstzrange(y.starts_at, y.ends_at + make_interval(mins => y.buffer_minutes))`,
  );
  expect(clashes).toEqual([]);
  const [{ buffered }] = await rows<{ buffered: number }>(
    `select count(*)::int as buffered from appointments a join services s
        on s.company_id = a.company_id and s.id = a.service_id
      where a.buffer_minutes = s.buffer_minutes and s.buffer_minutes > 0`,
  );
  expect(buffered).toBe(117);
});

test("active appointments fall inside the staff member's working hours, away from time off", async () => {
  const appts = await rows<{
    starts_at: Date;
    ends_at: Date;
    timezone: string;
    staff_id: string;
    company_id: string;
  }>(
    `select a.starts_at, a.ends_at, c.timezone, a.staff_id, a.company_id
       from appointments a join companies c on c.id = a.company_id
      where a.status <> 'cancelled'`,
  );
  const hours = await rows<{
    staff_id: string;
    weekday: number;
    starts_at: string;
    ends_at: string;
  }>('select staff_id, weekday, starts_at::text, ends_at::text from working_hours');
  const away = await rows<{ staff_id: string; starts_at: Date; ends_at: Date }>(
    'select * from time_off',
  );
  const problems: string[] = [];
  for (const a of appts) {
    const start = DateTime.fromJSDate(a.starts_at, { zone: a.timezone });
    const end = DateTime.fromJSDate(a.ends_at, { zone: a.timezone });
    const from = start.toFormat('HH:mm:ss');
    const to = end.toFormat('HH:mm:ss');
    const inHours = hours.some(
      (h) =>
        h.staff_id === a.staff_id &&
        h.weekday === start.weekday &&
        h.starts_at <= from &&
        to <= h.ends_at,
    );
    const off = away.some(
      (o) => o.staff_id === a.staff_id && a.starts_at < o.ends_at && o.starts_at < a.ends_at,
    );
    if (!inHours || off)
      problems.push(`${a.staff_id} ${start.toISO()} inHours=${inHours} off=${off}`);
  }
  expect(problems).toEqual([]);
  const breaks = await rows<{ days: number }>(
    `select count(*)::int as days from (select staff_id, weekday from working_hours
       group by staff_id, weekday having count(*) > 1) d`,
  );
  expect(breaks[0].days).toBeGreaterThan(10);
  const [{ saturdays }] = await rows<{ saturdays: number }>(
    'select count(*)::int as saturdays from working_hours where weekday = 6',
  );
  expect(saturdays).toBeGreaterThan(0);
});

test('calls link to appointments and callback requests of the same company and caller', async () => {
  const linked = await rows<{
    appointment_customer: string;
    call_customer: string | null;
    outcome: string;
  }>(
    `select a.customer_id as appointment_customer, c.customer_id as call_customer, c.outcome
       from appointments a join calls c on c.company_id = a.company_id and c.id = a.call_id`,
  );
  expect(linked.length).toBeGreaterThan(20);
  for (const l of linked) {
    expect(l.outcome).toBe('booked');
    expect(l.call_customer).toBe(l.appointment_customer);
  }
  const callbacks = await rows<{ phone: string; from_number: string; outcome: string }>(
    `select r.phone_e164 as phone, c.from_number, c.outcome
       from callback_requests r join calls c on c.company_id = r.company_id and c.id = r.call_id`,
  );
  expect(callbacks.length).toBeGreaterThan(5);
  for (const cb of callbacks) {
    expect(cb.phone).toBe(cb.from_number);
    expect(cb.outcome).toBe('callback_requested');
  }
  const [{ future_calls }] = await rows<{ future_calls: number }>(
    'select count(*)::int as future_calls from calls where started_at > ?',
    [NOW],
  );
  expect(future_calls).toBe(0);
});

test('policy configurations are valid for their type', async () => {
  const policies = await rows<{
    policy_type: PolicyType;
    config: unknown;
    branch_id: string | null;
    service_id: string | null;
  }>('select policy_type, config, branch_id, service_id from policy_configurations');
  expect(new Set(policies.map((p) => p.policy_type))).toEqual(
    new Set(['booking', 'cancellation', 'rescheduling']),
  );
  expect(policies.some((p) => p.branch_id !== null)).toBe(true);
  expect(policies.some((p) => p.service_id !== null)).toBe(true);
  for (const p of policies)
    expect(() => validatePolicyConfig(p.policy_type, p.config)).not.toThrow();
});

test('every demo user can be found at sign-in and has the demo password', async () => {
  expect(DEMO_USERS.map((u) => u.role)).toEqual([
    'super_admin',
    'admin',
    'manager',
    'staff',
    'admin',
    'admin',
  ]);
  const slugs = new Map(
    (await rows<{ id: string; slug: string }>('select id, slug from companies')).map((c) => [
      c.id,
      c.slug,
    ]),
  );
  for (const user of DEMO_USERS) {
    // The same lookup sign-in makes, as the platform caller role.
    const { rows: found } = await t.db.platform.raw<{
      rows: { kind: string; company_id: string | null; password_hash: string; disabled: boolean }[];
    }>('select * from platform_login_candidates(?::citext)', [user.email]);
    expect(found).toHaveLength(1);
    const [candidate] = found;
    expect(candidate.kind).toBe(user.role === 'super_admin' ? 'platform_admin' : 'user');
    expect(candidate.company_id ? slugs.get(candidate.company_id) : null).toBe(user.companySlug);
    expect(candidate.disabled).toBe(false);
    expect(await verifyPassword(candidate.password_hash, DEMO_PASSWORD)).toBe(true);
    expect(await verifyPassword(candidate.password_hash, 'wrong-password')).toBe(false);
  }
  const [staffUser] = await rows<{ roles: string[]; staff_name: string }>(
    `select u.roles, s.name as staff_name from users u
       join staff s on s.company_id = u.company_id and s.id = u.staff_id
      where u.email = 'staff@salon.example'`,
  );
  expect(staffUser).toEqual({ roles: ['staff'], staff_name: 'Lena Hoffmann' });
  expect(demoUserLines()).toHaveLength(DEMO_USERS.length);
  expect(demoUserLines()[0]).toMatch(/^root@platform\.example\s+super admin/);
});

test('a second run does nothing', async () => {
  const before = await rows<{ n: number }>('select count(*)::int as n from appointments');
  const again = await seedDemoData(t.db, undefined, { now: NOW });
  expect(again.seeded).toBe(false);
  const after = await rows<{ n: number }>('select count(*)::int as n from appointments');
  expect(after).toEqual(before);
  expect(await rows('select count(*)::int as n from companies')).toEqual([{ n: 3 }]);
});

describe('on a second database', () => {
  let other: TestDatabase;
  beforeAll(async () => {
    other = await createTestDatabase();
  });
  afterAll(async () => other.drop());

  test('the same moment gives the same data, and concurrent seeds insert it once', async () => {
    const [a, b] = await Promise.all([
      seedDemoData(other.db, undefined, { now: NOW }),
      seedDemoData(other.db, undefined, { now: NOW }),
    ]);
    expect([a.seeded, b.seeded].sort()).toEqual([false, true]);
    const digest = (k: typeof t.superuser) =>
      k.raw(
        `select (select md5(string_agg(concat_ws('|', id, company_id, customer_id, staff_id, service_id, call_id,
                    starts_at, ends_at, status, source, rescheduled_from_id), ',' order by id)) from appointments) as appointments,
                (select md5(string_agg(concat_ws('|', id, name, phone_e164, email), ',' order by id)) from customers) as customers,
                (select md5(string_agg(concat_ws('|', id, retell_call_id, started_at, outcome, customer_id), ',' order by id)) from calls) as calls`,
      ) as Promise<{ rows: unknown[] }>;
    expect((await digest(other.superuser)).rows).toEqual((await digest(t.superuser)).rows);
  });

  test("deleting a company as the owner removes all of its rows (the seed's clean-up path)", async () => {
    const [{ id }] = await other
      .superuser('companies')
      .where({ slug: 'brooklyn-auto-care' })
      .select('id');
    await other.superuser('companies').where({ id }).delete();
    const { rows } = await other.superuser.raw<{ rows: { n: number }[] }>(
      'select count(*)::int as n from appointments',
    );
    expect(rows[0].n).toBe(97);
  });
});

describe('password hashing', () => {
  test('hashes with argon2id and verifies', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(hash, 'Correct horse battery staple')).toBe(false);
    expect(await verifyPassword('not a hash', 'x')).toBe(false);
    expect(needsRehash(hash)).toBe(false);
    expect(
      needsRehash(
        '$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$3n8f3n8f3n8f3n8f3n8f3n8f3n8f3n8f3n8f3n8f3n8',
      ),
    ).toBe(true);
  });

  test('the dummy hash costs what a real verification costs', async () => {
    const used = parseOptions(DUMMY_HASH);
    expect({
      algorithm: used.algorithm,
      memoryCost: used.memoryCost,
      timeCost: used.timeCost,
      parallelism: used.parallelism,
    }).toEqual({ ...PASSWORD_HASH_OPTIONS });
    expect(await verifyDummy(DEMO_PASSWORD)).toBe(false);
    expect(DEMO_COMPANIES).toHaveLength(3);
  });
});

describe('the demo plan, whatever day it is made on', () => {
  /** Problems in a plan: wrong volumes, double bookings, work outside hours, calls from the future. */
  function planProblems(now: Date): string[] {
    const problems: string[] = [];
    const { companies } = planDemoData(now);
    const sum = (f: (d: (typeof companies)[number]['data']) => unknown[]) =>
      companies.reduce((n, c) => n + f(c.data).length, 0);
    if (sum((d) => d.appointments) !== 117) problems.push('appointments');
    if (sum((d) => d.customers) !== 60) problems.push('customers');
    if (sum((d) => d.calls) !== 100) problems.push('calls');
    for (const { plan, data } of companies) {
      const services = new Map(data.services.map((s) => [s.id, s]));
      const hours = data.workingHours;
      const active = data.appointments.filter((a) => a.status !== 'cancelled');
      for (const a of active) {
        const service = services.get(a.serviceId as string)!;
        const start = DateTime.fromJSDate(a.startsAt as Date, { zone: plan.timezone });
        const end = start.plus({
          minutes: (service.durationMinutes as number) + (service.bufferMinutes as number),
        });
        const inHours = hours.some(
          (h) =>
            h.staffId === a.staffId &&
            h.weekday === start.weekday &&
            (h.startsAt as string) <= start.toFormat('HH:mm') &&
            end.toFormat('HH:mm') <= (h.endsAt as string) &&
            end.hasSame(start, 'day'),
        );
        if (!inHours) problems.push(`${plan.slug}: ${start.toISO()} outside working hours`);
        for (const b of active) {
          if (b === a || b.staffId !== a.staffId) continue;
          const bService = services.get(b.serviceId as string)!;
          const bStart = (b.startsAt as Date).getTime();
          const bEnd =
            bStart +
            ((bService.durationMinutes as number) + (bService.bufferMinutes as number)) * 60_000;
          if (start.toMillis() < bEnd && bStart < end.toMillis()) {
            problems.push(`${plan.slug}: ${start.toISO()} overlaps another appointment`);
          }
        }
        const isPast = (a.startsAt as Date) < now;
        const expected = isPast ? ['completed', 'no_show'] : ['scheduled', 'confirmed'];
        if (!expected.includes(a.status as string))
          problems.push(`${plan.slug}: ${a.status as string} at ${start.toISO()}`);
      }
      if (data.calls.some((c) => (c.startedAt as Date) > now))
        problems.push(`${plan.slug}: a call in the future`);
      const phones = data.customers.map((c) => c.phoneE164 as string);
      if (new Set(phones).size !== phones.length) problems.push(`${plan.slug}: duplicate phone`);
    }
    return problems;
  }

  test('is the same for the same moment', () => {
    expect(JSON.stringify(planDemoData(NOW))).toEqual(JSON.stringify(planDemoData(NOW)));
  });

  test('always has the exact volumes, no double booking and appointments inside working hours', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2024-01-01T00:00:00Z'),
          max: new Date('2036-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (now) => {
          expect(planProblems(now)).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
    // Days where clocks change in Europe and North America.
    for (const iso of [
      '2026-03-29T01:30:00Z',
      '2026-10-25T00:30:00Z',
      '2026-03-08T07:30:00Z',
      '2026-11-01T05:30:00Z',
    ]) {
      expect(planProblems(new Date(iso))).toEqual([]);
    }
  });
});
