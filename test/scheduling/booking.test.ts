import type { Actor } from '../../src/context/actor';
import { AppError } from '../../src/errors/app-error';
import { bookAppointment, type BookAppointmentInput } from '../../src/scheduling';
import {
  createCompany,
  createWorld,
  failure,
  VOICE_AGENT,
  type CompanyFixture,
  type World,
} from './fixtures';

let world: World;
let co: CompanyFixture;
let admin: Actor;
let anna: string;
let ben: string;
let cut: string;
const now = new Date('2026-12-01T08:00:00Z');
const at = (local: string) => `2026-12-07T${local}:00+01:00`; // a Monday in Berlin

beforeAll(async () => {
  world = await createWorld();
  co = await createCompany(world, { timezone: 'Europe/Berlin', defaultRegion: 'DE' });
  admin = await co.user('admin');
  anna = await co.staff({ name: 'Anna' });
  ben = await co.staff({ name: 'Ben' });
  for (const s of [anna, ben]) {
    await co.weekly(
      s,
      [1, 2, 3, 4, 5, 6],
      [
        ['09:00', '12:00'],
        ['13:00', '18:00'],
      ],
    );
  }
  cut = await co.service({ name: 'Cut', durationMinutes: 30, bufferMinutes: 15, priceCents: 3900 });
});
afterAll(async () => world.t.drop());

const book = (actor: Actor, input: Partial<BookAppointmentInput>) =>
  co.run(actor, (ctx) =>
    bookAppointment(ctx, {
      serviceId: cut,
      source: 'phone',
      now,
      customer: { phone: '0151 2000 0001', name: 'Mia' },
      startsAt: at('09:00'),
      ...input,
    }),
  );

const counter = async (name: 'appointmentsBooked' | 'bookingConflicts', source: string) =>
  (await world.deps.metrics[name].get()).values.find((v) => v.labels.source === source)?.value ?? 0;

describe('booking', () => {
  test('creates the customer from a national phone number and records the booking', async () => {
    const before = await counter('appointmentsBooked', 'phone');
    const r = await book(VOICE_AGENT, {
      staffId: anna,
      customer: { phone: '0151 2345 6789', name: 'Lena', email: 'Lena@Example.com' },
      startsAt: at('09:00'),
      notes: 'first visit',
    });
    expect(r.customerCreated).toBe(true);
    expect(r.customer).toMatchObject({
      phoneE164: '+4915123456789',
      name: 'Lena',
      email: 'lena@example.com',
    });
    expect(r.appointment).toMatchObject({
      staffId: anna,
      serviceId: cut,
      status: 'scheduled',
      source: 'phone',
      priceCents: 3900,
      bufferMinutes: 15,
      notes: 'first visit',
      rescheduleCount: 0,
    });
    expect(r.appointment.startsAt.toISOString()).toBe('2026-12-07T08:00:00.000Z');
    expect(r.appointment.endsAt.toISOString()).toBe('2026-12-07T08:30:00.000Z');
    expect(r.timeZone).toBe('Europe/Berlin');
    expect(await counter('appointmentsBooked', 'phone')).toBe(before + 1);
    const log = await co.activity();
    expect(log.map((l) => l.action)).toEqual(
      expect.arrayContaining(['customer.created', 'appointment.booked']),
    );
    const booked = log.find(
      (l) => l.action === 'appointment.booked' && l.subject_id === r.appointment.id,
    );
    expect(booked).toMatchObject({ actor_type: 'voice_agent', subject_type: 'appointment' });
  });

  test('finds the same customer whatever the phone format', async () => {
    const r = await book(VOICE_AGENT, {
      customer: { phone: '+49 151 23456789' },
      startsAt: at('14:00'),
    });
    expect(r.customerCreated).toBe(false);
    expect(r.customer.name).toBe('Lena');
    // Anna already has 09:00; Ben has nothing that day.
    expect(r.appointment.staffId).toBe(ben);
  });

  test('an email that belongs to another customer is left off instead of failing', async () => {
    await co.customer({ phone: '+4915188888888', email: 'taken@example.com' });
    const r = await book(VOICE_AGENT, {
      startsAt: at('16:00'),
      customer: { phone: '0151 8888 0000', name: 'Ida', email: 'TAKEN@example.com' },
    });
    expect(r.customer).toMatchObject({ phoneE164: '+4915188880000', name: 'Ida', email: null });
    await world.t.superuser('appointments').where({ id: r.appointment.id }).del();
  });

  test('picks the free staff member with the least to do that day', async () => {
    // One appointment each: the tie goes by name.
    const r = await book(admin, { startsAt: at('10:00') });
    expect(r.appointment.staffId).toBe(anna);
    // At 09:00 only Ben is free.
    const r2 = await book(admin, { startsAt: at('09:00'), customer: { phone: '0151 2000 0002' } });
    expect(r2.appointment.staffId).toBe(ben);
    expect(r2.customer.name).toBe('+49 1512 0000002');
    // Named later: the placeholder name gives way to the real one.
    const r3 = await book(admin, {
      startsAt: at('15:00'),
      customer: { phone: '015120000002', name: 'Noah' },
    });
    expect(r3.customer.id).toBe(r2.customer.id);
    expect(r3.customer.name).toBe('Noah');
  });

  test('a taken time is CONFLICT, for the named staff member and when everyone is busy', async () => {
    const before = await counter('bookingConflicts', 'phone');
    let err = await failure(book(VOICE_AGENT, { staffId: anna, startsAt: at('09:00') }));
    expect(err).toMatchObject({
      code: 'CONFLICT',
      field: 'startsAt',
      details: { reason: 'SLOT_TAKEN' },
    });
    // Within Anna's buffer after 09:00-09:30.
    err = await failure(book(VOICE_AGENT, { staffId: anna, startsAt: at('09:35') }));
    expect(err).toMatchObject({ code: 'CONFLICT' });
    err = await failure(book(VOICE_AGENT, { startsAt: at('09:00') }));
    expect(err).toMatchObject({ code: 'CONFLICT' });
    expect(await counter('bookingConflicts', 'phone')).toBe(before + 3);
  });

  test('times outside availability are refused, naming the rule', async () => {
    let err = await failure(book(VOICE_AGENT, { staffId: anna, startsAt: at('12:15') }));
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'startsAt',
      details: { rule: 'availability.workingHours' },
    });
    expect(err.message).toMatch(/Anna does not work/);
    // Ends after closing.
    err = await failure(book(VOICE_AGENT, { staffId: anna, startsAt: at('17:45') }));
    expect(err).toMatchObject({ details: { rule: 'availability.workingHours' } });
    // Sunday.
    err = await failure(book(VOICE_AGENT, { startsAt: '2026-12-06T10:00:00+01:00' }));
    expect(err).toMatchObject({ details: { rule: 'availability.workingHours' } });
    await co.timeOff(ben, at('16:00'), at('18:00'));
    err = await failure(book(VOICE_AGENT, { staffId: ben, startsAt: at('16:30') }));
    expect(err).toMatchObject({ details: { rule: 'availability.timeOff' } });
  });

  test('past times, unknown or archived services and bad input get clear errors', async () => {
    const cases: [Partial<BookAppointmentInput>, string, string][] = [
      [{ startsAt: '2026-11-30T10:00:00+01:00' }, 'BAD_USER_INPUT', 'startsAt'],
      [{ startsAt: 'next tuesday' }, 'BAD_USER_INPUT', 'startsAt'],
      [{ startsAt: '2026-12-07T10:00:00' }, 'BAD_USER_INPUT', 'startsAt'],
      [{ serviceId: '7d0f6c1e-1111-4111-8111-111111111111' }, 'NOT_FOUND', 'serviceId'],
      [{ serviceId: 'cut' }, 'NOT_FOUND', 'serviceId'],
      [{ staffId: '7d0f6c1e-1111-4111-8111-111111111111' }, 'NOT_FOUND', 'staffId'],
      [{ customer: { phone: '12' } }, 'BAD_USER_INPUT', 'customer.phone'],
      [
        { customer: { phone: '0151 2000 0009', email: 'not-an-email' } },
        'BAD_USER_INPUT',
        'customer.email',
      ],
      [{ customer: null, customerId: null }, 'BAD_USER_INPUT', 'customer'],
      [{ customerId: '7d0f6c1e-1111-4111-8111-111111111111' }, 'BAD_USER_INPUT', 'customer'],
      [
        { customer: null, customerId: '7d0f6c1e-1111-4111-8111-111111111111' },
        'NOT_FOUND',
        'customerId',
      ],
      [{ source: 'fax' as never }, 'BAD_USER_INPUT', 'source'],
      [{ notes: 'x'.repeat(2001) }, 'BAD_USER_INPUT', 'notes'],
    ];
    for (const [input, code, field] of cases) {
      const err = await failure(book(VOICE_AGENT, { startsAt: at('11:00'), ...input }));
      expect([input, err]).toMatchObject([input, { code, field }]);
    }
    const archived = await co.service({ archived: true });
    const err = await failure(book(VOICE_AGENT, { serviceId: archived, startsAt: at('11:00') }));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'serviceId' });
  });

  test("another company's ids are NOT_FOUND", async () => {
    const other = await createCompany(world);
    const theirService = await other.service();
    const theirStaff = await other.staff();
    const theirCustomer = await other.customer({ phone: '+4915199999999' });
    const [{ id: theirCall }] = await world.t
      .superuser('calls')
      .insert({ company_id: other.id, retell_call_id: 'call_foreign' })
      .returning('id');
    const cases: [Partial<BookAppointmentInput>, string][] = [
      [{ serviceId: theirService }, 'serviceId'],
      [{ staffId: theirStaff }, 'staffId'],
      [{ customer: null, customerId: theirCustomer }, 'customerId'],
      [{ callId: theirCall as string }, 'callId'],
    ];
    for (const [input, field] of cases) {
      const err = await failure(book(VOICE_AGENT, { startsAt: at('11:00'), ...input }));
      expect([field, err]).toMatchObject([field, { code: 'NOT_FOUND', field }]);
    }
    // Nothing was written by the failed attempts.
    const rows = await world.t
      .superuser('appointments')
      .where({ company_id: co.id, starts_at: new Date(at('11:00')) });
    expect(rows).toHaveLength(0);
  });
});

describe('racing bookings', () => {
  test('20 concurrent bookings of one staff slot: one wins, 19 get CONFLICT', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        book(VOICE_AGENT, {
          staffId: anna,
          startsAt: '2026-12-08T10:00:00+01:00',
          customer: { phone: `0151 3000 ${String(i).padStart(4, '0')}`, name: `Caller ${i}` },
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(19);
    for (const f of failed) {
      expect(f.reason).toBeInstanceOf(AppError);
      expect(f.reason).toMatchObject({ code: 'CONFLICT', field: 'startsAt' });
    }
    const rows = await world.t
      .superuser('appointments')
      .where({ company_id: co.id, staff_id: anna })
      .where('starts_at', new Date('2026-12-08T09:00:00Z'));
    expect(rows).toHaveLength(1);
    // The losers' new customers were rolled back with their bookings.
    const callers = await world.t
      .superuser('customers')
      .where('company_id', co.id)
      .whereLike('name', 'Caller %');
    expect(callers).toHaveLength(1);
  });

  test('bookings racing for neighbouring times cannot both take the buffer', async () => {
    // 11:00-11:30 plus 15 minutes of buffer, against 11:30-12:00: only one can commit.
    const results = await Promise.allSettled(
      ['11:00', '11:30', '11:00', '11:30'].map((time, i) =>
        book(VOICE_AGENT, {
          staffId: ben,
          startsAt: `2026-12-08T${time}:00+01:00`,
          customer: { phone: `0151 4000 000${i}` },
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'CONFLICT' });
    }
  });

  test('the same new caller booking twice at once ends up as one customer', async () => {
    const results = await Promise.allSettled(
      ['13:00', '15:00'].map((time) =>
        book(VOICE_AGENT, {
          staffId: ben,
          startsAt: `2026-12-09T${time}:00+01:00`,
          customer: { phone: '0151 5000 0001', name: 'Twin' },
        }),
      ),
    );
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const customers = await world.t
      .superuser('customers')
      .where({ company_id: co.id, phone_e164: '+4915150000001' });
    expect(customers).toHaveLength(1);
  });
});
