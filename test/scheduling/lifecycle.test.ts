import type { Actor } from '../../src/context/actor';
import type { RequestContext } from '../../src/context/request-context';
import {
  allowedActions,
  cancelAppointment,
  completeAppointment,
  confirmAppointment,
  markNoShow,
  rescheduleAppointment,
} from '../../src/scheduling';
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
let service: string;
let customer: string;
const now = new Date('2026-12-01T08:00:00Z');
const berlin = (day: number, time: string) =>
  `2026-12-${String(day).padStart(2, '0')}T${time}:00+01:00`;

beforeAll(async () => {
  world = await createWorld();
  co = await createCompany(world, { timezone: 'Europe/Berlin' });
  admin = await co.user('admin');
  anna = await co.staff({ name: 'Anna' });
  ben = await co.staff({ name: 'Ben' });
  for (const s of [anna, ben]) await co.weekly(s, [1, 2, 3, 4, 5, 6], [['09:00', '18:00']]);
  service = await co.service({ durationMinutes: 60, bufferMinutes: 10 });
  customer = await co.customer({ phone: '+4915111111111' });
});
afterAll(async () => world.t.drop());

const as = <T>(actor: Actor, fn: (ctx: RequestContext) => Promise<T>) => co.run(actor, fn);
const appointment = (startsAt: string, staffId = anna, extra: { status?: string } = {}) =>
  co.appointment({
    staffId,
    serviceId: service,
    customerId: customer,
    startsAt,
    minutes: 60,
    ...extra,
  });
const row = (id: string) => world.t.superuser('appointments').where({ id }).first();

describe('state machine', () => {
  test('scheduled -> confirmed -> completed, each step once, completion only after the start', async () => {
    const id = await appointment(berlin(2, '10:00'));
    const confirmed = await as(admin, (ctx) => confirmAppointment(ctx, id, { now }));
    expect(confirmed).toMatchObject({ status: 'confirmed', confirmedAt: now });

    let err = await failure(as(admin, (ctx) => confirmAppointment(ctx, id, { now })));
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'id',
      details: { reason: 'INVALID_TRANSITION', currentStatus: 'confirmed', action: 'confirm' },
    });
    expect(err.message).toMatch(/is confirmed/);

    err = await failure(as(admin, (ctx) => completeAppointment(ctx, id, { now })));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', details: { currentStatus: 'confirmed' } });
    expect(err.message).toMatch(/not started yet/);

    const later = new Date('2026-12-02T09:30:00Z');
    const done = await as(admin, (ctx) => completeAppointment(ctx, id, { now: later }));
    expect(done.status).toBe('completed');
    const refused: ((ctx: RequestContext) => Promise<unknown>)[] = [
      (ctx: RequestContext) => cancelAppointment(ctx, id, { now: later }),
      (ctx: RequestContext) => markNoShow(ctx, id, { now: later }),
      (ctx: RequestContext) =>
        rescheduleAppointment(ctx, id, { startsAt: berlin(9, '10:00'), now: later }),
    ];
    for (const action of refused) {
      err = await failure(as(admin, action));
      expect(err).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'id',
        details: { currentStatus: 'completed' },
      });
      expect(err.message).toMatch(/is completed/);
    }
    const actions = (await co.activity()).filter((l) => l.subject_id === id).map((l) => l.action);
    expect(actions).toEqual(['appointment.confirmed', 'appointment.completed']);
  });

  test('no-show from scheduled once it has started; confirming after the end is refused', async () => {
    const id = await appointment(berlin(2, '12:00'));
    const after = new Date('2026-12-02T13:30:00Z');
    const err = await failure(as(admin, (ctx) => confirmAppointment(ctx, id, { now: after })));
    expect(err.message).toMatch(/already over/);
    const r = await as(admin, (ctx) => markNoShow(ctx, id, { now: after }));
    expect(r.status).toBe('no_show');
  });

  test('allowedActions lists what is possible now', () => {
    const a = {
      status: 'scheduled' as const,
      startsAt: new Date('2026-12-02T09:00:00Z'),
      endsAt: new Date('2026-12-02T10:00:00Z'),
    };
    expect(allowedActions(a, now)).toEqual(['confirm', 'cancel', 'reschedule']);
    expect(allowedActions(a, new Date('2026-12-02T09:30:00Z'))).toEqual([
      'confirm',
      'complete',
      'no_show',
      'cancel',
      'reschedule',
    ]);
    expect(allowedActions({ ...a, status: 'cancelled' }, now)).toEqual([]);
  });

  test("unknown and other companies' appointments are NOT_FOUND", async () => {
    const other = await createCompany(world);
    const s = await other.staff();
    const theirs = await other.appointment({
      staffId: s,
      serviceId: await other.service(),
      customerId: await other.customer(),
      startsAt: berlin(3, '10:00'),
    });
    for (const id of [theirs, '7d0f6c1e-1111-4111-8111-111111111111', 'abc']) {
      const err = await failure(as(admin, (ctx) => confirmAppointment(ctx, id, { now })));
      expect(err).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
    }
    expect((await row(theirs)).status).toBe('scheduled');
  });
});

describe('cancel', () => {
  test('records who, when and why', async () => {
    const id = await appointment(berlin(3, '10:00'));
    const r = await as(admin, (ctx) =>
      cancelAppointment(ctx, id, { reason: 'Customer is ill', now }),
    );
    expect(r.appointment).toMatchObject({
      status: 'cancelled',
      cancelledAt: now,
      cancelledBy: `user:${(admin as { userId: string }).userId}`,
      cancellationReason: 'Customer is ill',
    });
    const err = await failure(as(admin, (ctx) => cancelAppointment(ctx, id, { now })));
    expect(err.message).toMatch(/is cancelled/);
    const [entry] = (await co.activity('appointment.cancelled')).filter((e) => e.subject_id === id);
    expect(entry).toMatchObject({
      reason: 'Customer is ill',
      details: { from: 'scheduled', source: 'manual', feeCents: 0 },
    });
    const cancelled = (await world.deps.metrics.appointmentsCancelled.get()).values;
    expect(cancelled.find((v) => v.labels.source === 'manual')?.value).toBeGreaterThanOrEqual(1);
  });

  test('two concurrent cancellations: the second sees the first', async () => {
    const id = await appointment(berlin(3, '14:00'));
    const results = await Promise.allSettled([
      as(admin, (ctx) => cancelAppointment(ctx, id, { reason: 'a', now })),
      as(VOICE_AGENT, (ctx) => cancelAppointment(ctx, id, { reason: 'b', now })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(rejected.reason).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { currentStatus: 'cancelled' },
    });
  });
});

describe('reschedule', () => {
  test('keeps history: the old one is cancelled as rescheduled, the new one is linked', async () => {
    const id = await appointment(berlin(4, '10:00'));
    await as(admin, (ctx) => confirmAppointment(ctx, id, { now }));
    // A 15-minute shift overlaps the old time: allowed, because the old one is cancelled first.
    const r = await as(VOICE_AGENT, (ctx) =>
      rescheduleAppointment(ctx, id, { startsAt: berlin(4, '10:15'), now }),
    );
    expect(r.previous).toMatchObject({
      id,
      status: 'cancelled',
      cancellationReason: 'rescheduled',
      cancelledBy: 'voice_agent',
    });
    expect(r.appointment).toMatchObject({
      status: 'scheduled',
      staffId: anna,
      rescheduledFromId: id,
      rescheduleCount: 1,
      customerId: customer,
      serviceId: service,
      bufferMinutes: 10,
    });
    expect(r.appointment.startsAt.toISOString()).toBe('2026-12-04T09:15:00.000Z');
    expect(r.appointment.endsAt.toISOString()).toBe('2026-12-04T10:15:00.000Z');

    const second = await as(admin, (ctx) =>
      rescheduleAppointment(ctx, r.appointment.id, {
        startsAt: berlin(5, '11:00'),
        staffId: ben,
        now,
      }),
    );
    expect(second.appointment).toMatchObject({
      staffId: ben,
      rescheduleCount: 2,
      rescheduledFromId: r.appointment.id,
    });

    const log = await co.activity();
    expect(log.filter((l) => l.subject_id === id).map((l) => l.action)).toEqual([
      'appointment.confirmed',
      'appointment.rescheduled',
    ]);
    expect(
      log.find((l) => l.subject_id === r.appointment.id && l.action === 'appointment.booked')
        ?.details,
    ).toMatchObject({
      via: 'reschedule',
      fromAppointmentId: id,
    });
    const rescheduled = (await world.deps.metrics.appointmentsRescheduled.get()).values;
    expect(rescheduled.find((v) => v.labels.source === 'phone')?.value).toBe(1);
  });

  test('a taken time is CONFLICT and leaves the appointment as it was', async () => {
    const id = await appointment(berlin(8, '10:00'), anna);
    await appointment(berlin(8, '14:00'), anna);
    await appointment(berlin(8, '14:00'), ben);
    const err = await failure(
      as(admin, (ctx) => rescheduleAppointment(ctx, id, { startsAt: berlin(8, '14:30'), now })),
    );
    expect(err).toMatchObject({ code: 'CONFLICT', field: 'startsAt' });
    expect(await row(id)).toMatchObject({ status: 'scheduled', cancellation_reason: null });
  });

  test('without a staff member named, another one takes over when the first is busy', async () => {
    const id = await appointment(berlin(9, '10:00'), anna);
    await appointment(berlin(9, '15:00'), anna);
    const r = await as(admin, (ctx) =>
      rescheduleAppointment(ctx, id, { startsAt: berlin(9, '15:00'), now }),
    );
    expect(r.appointment.staffId).toBe(ben);
    // Same staff member kept when free.
    const id2 = await appointment(berlin(10, '10:00'), ben);
    const r2 = await as(admin, (ctx) =>
      rescheduleAppointment(ctx, id2, { startsAt: berlin(10, '12:00'), now }),
    );
    expect(r2.appointment.staffId).toBe(ben);
  });

  test('past and malformed times are refused', async () => {
    const id = await appointment(berlin(11, '10:00'));
    let err = await failure(
      as(admin, (ctx) => rescheduleAppointment(ctx, id, { startsAt: '2026-11-30T10:00:00Z', now })),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'startsAt' });
    err = await failure(
      as(admin, (ctx) => rescheduleAppointment(ctx, id, { startsAt: 'soon', now })),
    );
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'startsAt' });
    err = await failure(
      as(admin, (ctx) => rescheduleAppointment(ctx, id, { startsAt: berlin(11, '20:00'), now })),
    );
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { rule: 'availability.workingHours' },
    });
    expect((await row(id)).status).toBe('scheduled');
  });
});
