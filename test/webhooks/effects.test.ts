import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import type { AppDeps } from '../../src/context/deps';
import type { WebhookWorker } from '../../src/webhooks/worker';
import {
  calcomEvent,
  makeDeps,
  postCalcom,
  postRetell,
  retellEvent,
  seedCompany,
  startWebhookApp,
  unique,
  type SeededCompany,
} from './helpers';

/**
 * The effects of Retell and Cal.com events, delivered over HTTP in a chosen order and applied by a
 * worker driven by hand, so every out-of-order sequence is exact.
 */
let t: TestDatabase;
let deps: AppDeps;
let app: Awaited<ReturnType<typeof startWebhookApp>>;
let worker: WebhookWorker;
let co: SeededCompany;
let other: SeededCompany;

beforeAll(async () => {
  t = await createTestDatabase();
  deps = makeDeps(t.db);
  app = await startWebhookApp(deps, { worker: { backoffBaseMs: 60_000 } });
  worker = app.worker;
  co = await seedCompany(t.superuser);
  other = await seedCompany(t.superuser);
});
afterAll(async () => {
  await app?.close();
  await t.drop();
});

async function deliverRetell(event: string, call: Record<string, unknown>) {
  const res = await postRetell(app.url, retellEvent(event, call));
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function deliverCalcom(
  trigger: string,
  payload: Record<string, unknown>,
  createdAt?: string,
) {
  const res = await postCalcom(
    app.url,
    calcomEvent(trigger, { eventTypeId: co.eventTypeId, ...payload }, createdAt),
    { endpoint: co.calcomEndpointId },
  );
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const eventRow = (id: string) => t.superuser('webhook_events').where({ id }).first();
const callRow = (callId: string) => t.superuser('calls').where({ retell_call_id: callId }).first();
const appt = (uid: string) =>
  t.superuser('appointments').where({ calcom_booking_uid: uid }).first();

describe('Retell calls', () => {
  const call = (id: string, extra: Record<string, unknown> = {}) => ({
    call_id: id,
    agent_id: co.agentId,
    from_number: co.customerPhone,
    to_number: co.number,
    ...extra,
  });

  test('in order: started, ended, analyzed', async () => {
    const id = unique('call');
    await deliverRetell('call_started', call(id));
    await worker.drain();
    expect(await callRow(id)).toMatchObject({
      status: 'ongoing',
      customer_id: co.customerId,
      ended_at: null,
    });
    await deliverRetell('call_ended', call(id));
    await deliverRetell('call_analyzed', call(id));
    await worker.drain();
    const row = await callRow(id);
    expect(row).toMatchObject({
      company_id: co.companyId,
      status: 'ended',
      direction: 'inbound',
      from_number: co.customerPhone,
      to_number: co.number,
      duration_ms: 95_000,
      summary: 'Caller booked a haircut.',
      sentiment: 'positive',
      call_successful: true,
      disconnection_reason: 'user_hangup',
      cost_cents: 123,
      customer_id: co.customerId,
      retell_agent_id: co.retellAgentRowId,
      phone_number_id: co.phoneNumberId,
    });
    expect(row.transcript).toMatch(/haircut tomorrow/);
    expect(row.started_at.getTime()).toBe(1_767_000_000_000);
    expect(row.ended_at.getTime()).toBe(1_767_000_095_000);
    expect(row.metadata.retell).toMatchObject({
      stage: 3,
      customAnalysisData: { intent: 'booking' },
    });
  });

  test('out of order: analyzed, then started, then ended never regresses', async () => {
    const id = unique('call');
    await deliverRetell('call_analyzed', call(id));
    await worker.drain();
    const analyzed = await callRow(id);
    expect(analyzed).toMatchObject({
      status: 'ended',
      sentiment: 'positive',
      summary: 'Caller booked a haircut.',
    });
    await deliverRetell(
      'call_started',
      call(id, { call_status: 'ongoing', transcript: 'partial' }),
    );
    await worker.drain();
    await deliverRetell(
      'call_ended',
      call(id, { disconnection_reason: 'agent_hangup', call_analysis: undefined }),
    );
    await worker.drain();
    const row = await callRow(id);
    expect(row).toMatchObject({
      status: 'ended',
      sentiment: 'positive',
      summary: 'Caller booked a haircut.',
      disconnection_reason: 'user_hangup',
      call_successful: true,
    });
    expect(row.transcript).toMatch(/haircut tomorrow/);
    expect(await t.superuser('calls').where({ retell_call_id: id })).toHaveLength(1);
  });

  test('ended before started (a call that never connected has no started at all)', async () => {
    const id = unique('call');
    await deliverRetell(
      'call_ended',
      call(id, { call_status: 'not_connected', disconnection_reason: 'dial_no_answer' }),
    );
    await worker.drain();
    await deliverRetell('call_started', call(id));
    await worker.drain();
    expect(await callRow(id)).toMatchObject({
      status: 'not_connected',
      disconnection_reason: 'dial_no_answer',
    });
  });

  test('routes by number when the agent is unknown; ambiguous numbers stay unroutable', async () => {
    const id = unique('call');
    const eid = await deliverRetell('call_started', call(id, { agent_id: 'agent_unregistered' }));
    await worker.drain();
    expect(await eventRow(eid)).toMatchObject({
      status: 'processed',
      resolved_company_id: co.companyId,
    });
    expect(await callRow(id)).toMatchObject({
      phone_number_id: co.phoneNumberId,
      retell_agent_id: null,
    });

    // A second company cannot register the same number: a number belongs to one company
    // platform-wide, so routing never has to choose.
    const shared = '+4940123456';
    await t.superuser('phone_numbers').insert({ company_id: co.companyId, number_e164: shared });
    await expect(
      t.superuser('phone_numbers').insert({ company_id: other.companyId, number_e164: shared }),
    ).rejects.toMatchObject({ code: '23505', constraint: 'phone_numbers_number_platform_unique' });
    const id2 = unique('call');
    await deliverRetell('call_started', {
      call_id: id2,
      agent_id: 'agent_unregistered',
      to_number: shared,
    });
    await worker.drain();
    expect(await callRow(id2)).toMatchObject({ company_id: co.companyId });
  });

  test('a call routed to another company stays there (agent id wins over number)', async () => {
    const id = unique('call');
    await deliverRetell('call_started', call(id, { agent_id: other.agentId }));
    await worker.drain();
    expect(await callRow(id)).toMatchObject({
      company_id: other.companyId,
      customer_id: null,
      phone_number_id: null,
    });
  });
});

describe('Cal.com bookings', () => {
  test('created: service from the mapping, staff from the organizer, customer created', async () => {
    const uid = unique('bk');
    const eid = await deliverCalcom('BOOKING_CREATED', {
      uid,
      organizer: { id: co.calcomUserId, name: 'Sam', email: 'sam@elsewhere.test' },
      attendees: [
        {
          name: 'New Person',
          email: `${uid}@example.test`,
          phoneNumber: '0170 1234567',
          language: { locale: 'de' },
        },
      ],
    });
    await worker.drain();
    expect(await eventRow(eid)).toMatchObject({
      status: 'processed',
      resolved_company_id: co.companyId,
    });
    const a = await appt(uid);
    expect(a).toMatchObject({
      company_id: co.companyId,
      service_id: co.serviceId,
      staff_id: co.staffId,
      branch_id: co.branchId,
      source: 'calcom',
      status: 'confirmed',
      notes: 'Please be quick',
      price_cents: 2500,
    });
    const customer = await t.superuser('customers').where({ id: a.customer_id }).first();
    expect(customer).toMatchObject({
      name: 'New Person',
      email: `${uid}@example.test`,
      phone_e164: '+491701234567',
      preferred_language: 'de',
    });
    const log = await t
      .superuser('activity_logs')
      .where({ subject_id: a.id, action: 'appointment.booked' })
      .first();
    expect(log).toMatchObject({ actor_type: 'webhook' });
  });

  test('staff by organizer email, existing customer found by email', async () => {
    const uid = unique('bk');
    const email = `${uid}@example.test`;
    const [{ id: customerId }] = await t
      .superuser('customers')
      .insert({ company_id: co.companyId, name: 'Pat', email })
      .returning('id');
    const slug = (await t.superuser('companies').where({ id: co.companyId }).first()).slug;
    await deliverCalcom('BOOKING_CREATED', {
      uid,
      startTime: '2027-03-02T09:00:00.000Z',
      endTime: '2027-03-02T09:30:00.000Z',
      organizer: { id: 999999, email: `ALEX@${slug}.test` },
      attendees: [{ name: 'Pat', email: email.toUpperCase() }],
    });
    await worker.drain();
    expect(await appt(uid)).toMatchObject({ staff_id: co.staff2Id, customer_id: customerId });
  });

  test('cancelled before created ends cancelled', async () => {
    const uid = unique('bk');
    const t1 = '2027-03-03T10:00:00.000Z';
    await deliverCalcom(
      'BOOKING_CANCELLED',
      {
        uid,
        status: 'CANCELLED',
        cancellationReason: 'Sick',
        cancelledBy: 'jane@example.test',
        startTime: t1,
        endTime: '2027-03-03T10:30:00.000Z',
      },
      '2027-01-02T00:00:00.000Z',
    );
    await worker.drain();
    await deliverCalcom(
      'BOOKING_CREATED',
      { uid, startTime: t1, endTime: '2027-03-03T10:30:00.000Z' },
      '2027-01-01T00:00:00.000Z',
    );
    await worker.drain();
    expect(await appt(uid)).toMatchObject({
      status: 'cancelled',
      cancellation_reason: 'Sick',
      cancelled_by: 'jane@example.test',
    });
    expect(await t.superuser('appointments').where({ calcom_booking_uid: uid })).toHaveLength(1);
  });

  test('created then cancelled', async () => {
    const uid = unique('bk');
    const times = { startTime: '2027-03-04T10:00:00.000Z', endTime: '2027-03-04T10:30:00.000Z' };
    await deliverCalcom('BOOKING_CREATED', { uid, ...times });
    await worker.drain();
    await deliverCalcom('BOOKING_CANCELLED', {
      uid,
      ...times,
      cancellationReason: 'Changed plans',
    });
    await worker.drain();
    expect(await appt(uid)).toMatchObject({
      status: 'cancelled',
      cancellation_reason: 'Changed plans',
      cancelled_by: 'calcom',
    });
  });

  test('reschedule in order: old cancelled, new linked', async () => {
    const oldUid = unique('bk');
    const newUid = unique('bk');
    const org = { organizer: { id: co.calcomUserId, email: 'x@y.test' } };
    await deliverCalcom('BOOKING_CREATED', {
      uid: oldUid,
      startTime: '2027-03-05T10:00:00.000Z',
      endTime: '2027-03-05T10:30:00.000Z',
      ...org,
    });
    await worker.drain();
    // Overlapping the old slot for the same staff member: fine, the old one is freed first.
    await deliverCalcom('BOOKING_RESCHEDULED', {
      uid: newUid,
      rescheduleUid: oldUid,
      startTime: '2027-03-05T10:15:00.000Z',
      endTime: '2027-03-05T10:45:00.000Z',
      rescheduleStartTime: '2027-03-05T10:00:00.000Z',
      rescheduleEndTime: '2027-03-05T10:30:00.000Z',
      rescheduledBy: 'jane@example.test',
      ...org,
    });
    await worker.drain();
    const oldA = await appt(oldUid);
    const newA = await appt(newUid);
    expect(oldA).toMatchObject({ status: 'cancelled', cancellation_reason: 'rescheduled' });
    expect(newA).toMatchObject({
      status: 'confirmed',
      rescheduled_from_id: oldA.id,
      reschedule_count: 1,
      staff_id: co.staffId,
    });
  });

  test('reschedule out of order: rescheduled, then the old created, then the new created', async () => {
    const a = unique('bk');
    const b = unique('bk');
    const c = unique('bk');
    const slot = (h: number) => ({
      startTime: `2027-03-06T${h}:00:00.000Z`,
      endTime: `2027-03-06T${h}:30:00.000Z`,
    });
    // Chain a -> b -> c, delivered backwards.
    await deliverCalcom('BOOKING_RESCHEDULED', {
      uid: c,
      rescheduleUid: b,
      ...slot(14),
      rescheduleStartTime: slot(12).startTime,
      rescheduleEndTime: slot(12).endTime,
    });
    await worker.drain();
    await deliverCalcom('BOOKING_RESCHEDULED', { uid: b, rescheduleUid: a, ...slot(12) });
    await worker.drain();
    await deliverCalcom('BOOKING_CREATED', { uid: a, ...slot(10) });
    await deliverCalcom('BOOKING_CREATED', { uid: b, ...slot(12) });
    await deliverCalcom('BOOKING_CREATED', { uid: c, ...slot(14) });
    await worker.drain();
    const [ra, rb, rc] = [await appt(a), await appt(b), await appt(c)];
    expect(ra).toMatchObject({ status: 'cancelled', reschedule_count: 0 });
    expect(rb).toMatchObject({
      status: 'cancelled',
      rescheduled_from_id: ra.id,
      reschedule_count: 1,
    });
    expect(rc).toMatchObject({
      status: 'confirmed',
      rescheduled_from_id: rb.id,
      reschedule_count: 2,
    });
    expect(await t.superuser('appointments').whereIn('calcom_booking_uid', [a, b, c])).toHaveLength(
      3,
    );
  });

  test('a double booking marks the event failed with a clear error, and it is retried later', async () => {
    const times = { startTime: '2027-03-07T09:00:00.000Z', endTime: '2027-03-07T10:00:00.000Z' };
    const org = { organizer: { id: co.calcomUserId, email: 'x@y.test' } };
    await deliverCalcom('BOOKING_CREATED', { uid: unique('bk'), ...times, ...org });
    await worker.drain();
    const clash = unique('bk');
    const eid = await deliverCalcom('BOOKING_CREATED', {
      uid: clash,
      startTime: '2027-03-07T09:30:00.000Z',
      endTime: '2027-03-07T10:30:00.000Z',
      ...org,
    });
    await worker.drain();
    const ev = await eventRow(eid);
    expect(ev.status).toBe('failed');
    expect(ev.last_error).toMatch(
      /^Booking conflict: Cal\.com booking .* overlaps another appointment of staff member/,
    );
    expect(ev.next_attempt_at.getTime()).toBeGreaterThan(Date.now() + 30_000);
    expect(await appt(clash)).toBeUndefined();
  });

  test('unmapped event types are unroutable, and never attached to a company', async () => {
    const res = await postCalcom(
      app.url,
      calcomEvent('BOOKING_CREATED', { uid: unique('bk'), eventTypeId: 424242 }),
      { endpoint: co.calcomEndpointId },
    );
    const { id } = (await res.json()) as { id: string };
    await worker.drain();
    expect(await eventRow(id)).toMatchObject({ status: 'unroutable', resolved_company_id: null });
  });

  test('other trigger events are stored and ignored', async () => {
    const id = await deliverCalcom('BOOKING_NO_SHOW_UPDATED', { uid: unique('bk') });
    await worker.drain();
    expect(await eventRow(id)).toMatchObject({
      status: 'ignored',
      resolved_company_id: co.companyId,
    });
  });

  test('a booking without times is dead at once (retrying cannot help)', async () => {
    const res = await postCalcom(
      app.url,
      {
        triggerEvent: 'BOOKING_CREATED',
        createdAt: new Date().toISOString(),
        payload: { uid: unique('bk'), eventTypeId: co.eventTypeId, attendees: [] },
      },
      { endpoint: co.calcomEndpointId },
    );
    const { id } = (await res.json()) as { id: string };
    await worker.drain();
    const ev = await eventRow(id);
    expect(ev).toMatchObject({ status: 'dead', attempts: 1 });
    expect(ev.last_error).toMatch(/without a valid startTime/);
  });
});

describe('Cal.com bookings go through the scheduling services', () => {
  test('a booking is written by bookAppointment: customer and appointment audited as any booking, no local buffer', async () => {
    const uid = unique('bk');
    await deliverCalcom('BOOKING_CREATED', {
      uid,
      startTime: '2027-04-01T09:00:00.000Z',
      endTime: '2027-04-01T09:30:00.000Z',
      organizer: { id: co.calcomUserId, email: 'x@y.test' },
      attendees: [{ name: 'Vera Neu', email: `${uid}@example.test`, phoneNumber: '0170 5550101' }],
    });
    await worker.drain();
    const a = await appt(uid);
    expect(a).toMatchObject({ source: 'calcom', status: 'confirmed', buffer_minutes: 0 });
    const logs = await t
      .superuser('activity_logs')
      .whereIn('subject_id', [a.id, a.customer_id])
      .orderBy('created_at');
    expect(logs.map((l: { action: string }) => l.action).sort()).toEqual([
      'appointment.booked',
      'customer.created',
    ]);
    const booked = logs.find((l: { action: string }) => l.action === 'appointment.booked');
    expect(booked.details).toMatchObject({
      source: 'calcom',
      calcomBookingUid: uid,
      customerId: a.customer_id,
      staffId: co.staffId,
    });
    const created = logs.find((l: { action: string }) => l.action === 'customer.created');
    expect(created.details).toMatchObject({ via: 'booking', source: 'calcom' });
  });

  test('a cancellation inside the local notice is recorded: the provider has already cancelled', async () => {
    // Locally, cancelling later than 30 days ahead without a fee is refused.
    const [policy] = await t
      .superuser('policy_configurations')
      .insert({
        company_id: co.companyId,
        policy_type: 'cancellation',
        config: { minNoticeHours: 24 * 30, feeCents: null },
      })
      .returning('id');
    try {
      const uid = unique('bk');
      const start = new Date(Date.now() + 2 * 3600_000);
      start.setUTCSeconds(0, 0);
      const times = {
        startTime: start.toISOString(),
        endTime: new Date(start.getTime() + 30 * 60_000).toISOString(),
      };
      await deliverCalcom('BOOKING_CREATED', { uid, ...times });
      await worker.drain();
      const eid = await deliverCalcom('BOOKING_CANCELLED', {
        uid,
        ...times,
        cancellationReason: 'Ill',
      });
      await worker.drain();
      expect(await eventRow(eid)).toMatchObject({ status: 'processed' });
      expect(await appt(uid)).toMatchObject({
        status: 'cancelled',
        cancellation_reason: 'Ill',
        cancelled_by: 'calcom',
      });
      const a = await appt(uid);
      const log = await t
        .superuser('activity_logs')
        .where({ subject_id: a.id, action: 'appointment.cancelled' })
        .first();
      expect(log.details).toMatchObject({ source: 'calcom', calcomBookingUid: uid });
    } finally {
      await t.superuser('policy_configurations').where({ id: policy.id }).delete();
    }
  });
});
